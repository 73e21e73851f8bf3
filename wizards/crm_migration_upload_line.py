# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class CrmMigrationUploadLine(models.TransientModel):
    _name = 'crm.migration.upload.line'
    _description = 'CRM Migration Upload: detected table'
    _order = 'sequence, id'

    wizard_id = fields.Many2one('crm.migration.upload', required=True, ondelete='cascade')
    sequence = fields.Integer()
    attachment_id = fields.Many2one('ir.attachment', required=True, ondelete='cascade')
    file_name = fields.Char(related='attachment_id.name')
    sheet_name = fields.Char()
    table_name = fields.Char()
    object_id = fields.Many2one(
        'crm.migration.object', string='Loads as',
        domain="[('project_id', '=', parent.project_id)]",
        help="The source object this table holds; empty ignores the table.")
    row_count = fields.Integer('Rows')
    columns = fields.Char()
    encoding = fields.Char()
    delimiter = fields.Char()
