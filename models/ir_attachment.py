# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib

from odoo import models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..services.constants import DATA_READERS, LIVE_OPERATIONS

# What Odoo writes on an attachment when someone only looks at it: the chatter renders a PDF's
# first page and saves it as the thumbnail (/mail/attachment/update_thumbnail), a share link
# gives it an access token.
READING_FIELDS = {'thumbnail', 'access_token'}
# Files on these records are source exports (every patient's row) or reports made
# from them (the diff workbook): reading the project or the run is not enough.
PRIVATE_MODELS = ('crm.migration.project', 'crm.migration.run')


@contextlib.contextmanager
def reading_is_not_editing(records):
    """Writes Odoo makes when a migrated record is only looked at (the chatter saves a PDF's
    thumbnail, previewing a document makes it the record's main attachment, a share link gives
    it an access token) leave its write date and author as they were: rollback and delta take a
    later write by another user for an edit to keep, and nobody edited anything."""
    env = records.env
    linked = env['crm.migration.record'].sudo().search_count([
        ('res_model', '=', records._name), ('res_id', 'in', records.ids),
        ('operation', 'in', LIVE_OPERATIONS)], limit=1) if records.ids else 0
    if not linked or not records._table or 'write_date' not in records._fields:
        yield
        return
    records.flush_recordset(['write_date', 'write_uid'])
    env.cr.execute(SQL("SELECT id, write_date, write_uid FROM %s WHERE id IN %s",
                       SQL.identifier(records._table), tuple(records.ids)))
    stamps = env.cr.fetchall()
    yield
    records.flush_recordset()
    for record_id, write_date, write_uid in stamps:
        env.cr.execute(SQL("UPDATE %s SET write_date = %s, write_uid = %s WHERE id = %s",
                           SQL.identifier(records._table), write_date, write_uid, record_id))
    records.invalidate_recordset(['write_date', 'write_uid'])


class IrAttachment(models.Model):
    _inherit = 'ir.attachment'

    def register_as_main_attachment(self, force=True):
        """Called by the chatter when it previews a PDF or an image: a reading, not an edit."""
        todo = self.filtered(lambda a: a.res_model and a.res_id and a.res_model in self.env)
        with contextlib.ExitStack() as stack:
            for model, attachments in todo.grouped('res_model').items():
                stack.enter_context(reading_is_not_editing(self.env[model].browse(attachments.mapped('res_id'))))
            return super().register_as_main_attachment(force=force)

    def write(self, vals):
        if vals and set(vals) <= READING_FIELDS:
            with reading_is_not_editing(self.sudo()):
                return super().write(vals)
        return super().write(vals)

    def _check_access(self, operation):
        """Odoo lets whoever reads a record read its attachments; a migration project's
        files also need the right to read the migrated data (``DATA_READERS``)."""
        result = super()._check_access(operation)
        if self.env.su or self.env.is_system() or not self:
            return result
        forbidden = self.browse(result[0]._ids) if result else self.browse()
        candidates = (self - forbidden).sudo()
        candidates.fetch(['res_model'])
        private = candidates.filtered(lambda a: a.res_model in PRIVATE_MODELS)
        if not private or any(self.env.user.has_group(group) for group in DATA_READERS.split(',')):
            return result
        forbidden |= self.browse(private._ids)
        names = ', '.join(forbidden.sudo().mapped('name'))

        def error():
            return AccessError(self.env._(
                "The files of a migration project hold the source's data: reading them needs the right to read "
                "the migrated records (Sales: User: All Documents) or the Migration Manager role. (%s)", names))
        return forbidden, (result[1] if result else error)
