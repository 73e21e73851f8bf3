# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.exceptions import AccessError

from ..services.constants import DATA_READERS

# Files on these records are source exports (every patient's row) or reports made
# from them (the diff workbook): reading the project or the run is not enough.
PRIVATE_MODELS = ('crm.migration.project', 'crm.migration.run')


class IrAttachment(models.Model):
    _inherit = 'ir.attachment'

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
