# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import tagged

from .common import CrmMigrationCommon


@tagged('crm_migration', 'post_install', '-at_install')
class TestCron(CrmMigrationCommon):

    def test_start_queues_and_cron_completes(self):
        action = self.project.action_start_run()
        run = self.env['crm.migration.run'].browse(action['res_id'])
        self.assertEqual(run.state, 'queued')
        cron = self.env.ref('crm_migration.ir_cron_crm_migration_run')
        self.assertTrue(self.env['ir.cron.trigger'].search_count([('cron_id', '=', cron.id)]))
        with self.enter_registry_test_mode():
            cron.method_direct_trigger()
        run.invalidate_recordset()
        self.assertEqual(run.state, 'done')
        self.assertStat(run, 'patients', created=5, failed=1)
        self.assertStat(run, 'invoice_lines', created=3, failed=1)
