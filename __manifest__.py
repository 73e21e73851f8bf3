# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    'name': 'CRM Migration',
    'summary': 'Move a clinic, law firm or sales team out of another system into Odoo CRM: '
               'mapping, custom fields, recorded and idempotent loads, rollback',
    'version': '19.0.1.0.0',
    'category': 'Sales/CRM',
    'license': 'LGPL-3',
    'author': 'crm_migration contributors',
    'website': 'https://github.com/crm-migration/crm_migration',
    'development_status': 'Alpha',
    'depends': ['crm', 'mail', 'calendar', 'sale_management'],
    'external_dependencies': {'python': ['openpyxl', 'requests']},
    'data': [
        'security/crm_migration_security.xml',
        'security/ir.model.access.csv',
        'data/ir_cron_data.xml',
        'wizards/crm_migration_upload_views.xml',
        'wizards/crm_migration_mapping_import_views.xml',
        'views/crm_migration_project_views.xml',
        'views/crm_migration_object_views.xml',
        'views/crm_migration_field_views.xml',
        'views/crm_migration_run_views.xml',
        'views/crm_migration_run_queue_views.xml',
        'views/crm_migration_record_views.xml',
        'views/crm_migration_issue_views.xml',
        'views/crm_migration_issue_mapping_views.xml',
        'views/crm_migration_diff_views.xml',
        'views/crm_migration_migrated_data_views.xml',
        'views/crm_migration_menus.xml',
    ],
    'demo': [
        'demo/crm_migration_demo.xml',
    ],
    'assets': {
        'web.assets_backend': [
            'crm_migration/static/src/js/**/*',
        ],
        'web.assets_tests': [
            'crm_migration/static/tests/tours/**/*',
        ],
    },
    'application': True,
}
