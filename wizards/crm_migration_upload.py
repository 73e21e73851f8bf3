# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib
import io
import os
import zipfile

from odoo import fields, models
from odoo.exceptions import UserError

from ..connectors import tabular
from ..connectors.exceptions import SourceFormatError
from ..services import actions, binding, definitions

# A clinic export with scanned forms is large, but a zip that inflates
# past this is refused rather than allowed to fill the filestore.
MAX_UNZIPPED = 2 * 1024 ** 3
MAX_MEMBERS = 20000
# Each member is read into one attachment's bytes: above this it is refused
# from the ZIP directory alone, before anything is inflated.
MAX_MEMBER = 256 * 1024 ** 2
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError)


def clean_filename(name):
    """The base name of an uploaded or zipped file, without NUL, control characters or folders."""
    name = ''.join(ch for ch in str(name or '') if ch >= ' ' and ch != '\x7f')
    name = os.path.basename(name.replace('\\', '/')).strip()
    return name.lstrip('.') or 'unnamed'


def open_zip(data):
    """A ZipFile of ``data``; names flagged UTF-8 that are not valid UTF-8 are read as cp437
    (Python refuses the whole archive for one such name)."""
    with contextlib.suppress(UnicodeDecodeError):
        return zipfile.ZipFile(io.BytesIO(data))
    data = bytearray(data)
    end = data.rfind(b'PK\x05\x06')
    if end < 0:
        raise zipfile.BadZipFile('no central directory')
    count = int.from_bytes(data[end + 10:end + 12], 'little')
    pos = int.from_bytes(data[end + 16:end + 20], 'little')
    for _entry in range(count):
        if data[pos:pos + 4] != b'PK\x01\x02':
            raise zipfile.BadZipFile('damaged central directory')
        flags = int.from_bytes(data[pos + 8:pos + 10], 'little')
        name_len, extra_len, comment_len = (int.from_bytes(data[pos + o:pos + o + 2], 'little') for o in (28, 30, 32))
        try:
            bytes(data[pos + 46:pos + 46 + name_len]).decode('utf-8')
        except UnicodeDecodeError:
            data[pos + 8:pos + 10] = (flags & ~0x800).to_bytes(2, 'little')
            # The local header repeats the flag, and Python checks the name against it.
            local = int.from_bytes(data[pos + 42:pos + 46], 'little')
            if data[local:local + 4] == b'PK\x03\x04':
                local_flags = int.from_bytes(data[local + 6:local + 8], 'little')
                data[local + 6:local + 8] = (local_flags & ~0x800).to_bytes(2, 'little')
        pos += 46 + name_len + extra_len + comment_len
    return zipfile.ZipFile(io.BytesIO(bytes(data)))


def zip_member_name(member):
    """A member's base name, cleaned (``open_zip`` already chose UTF-8 or cp437)."""
    return clean_filename(member.filename)


class CrmMigrationUpload(models.TransientModel):
    """Upload the exported files, see which object each table holds, confirm."""
    _name = 'crm.migration.upload'
    _description = 'CRM Migration Upload'

    project_id = fields.Many2one('crm.migration.project', required=True, ondelete='cascade')
    attachment_ids = fields.Many2many(
        'ir.attachment', string='Files',
        help="CSV/TSV files, XLSX workbooks (one sheet per object), documents referenced by an "
             "attachments table, or one ZIP holding all of them.")
    state = fields.Selection([('upload', 'Upload'), ('review', 'Review')], default='upload', required=True)
    line_ids = fields.One2many('crm.migration.upload.line', 'wizard_id', string='Tables')
    document_count = fields.Integer('Documents', readonly=True)
    warnings = fields.Text(readonly=True)

    def action_detect(self):
        """Store the files on the project and propose an object for every table."""
        self.ensure_one()
        if not self.attachment_ids:
            raise UserError(self.env._("Add the exported files first."))
        project = self.project_id
        limit = self._max_upload_bytes()
        too_big = self.attachment_ids.filtered(lambda a: a.file_size > limit)
        if too_big:
            raise UserError(self.env._(
                "%(files)s exceed the upload limit of %(mb)s MB (system parameter crm_migration.max_upload_mb).",
                files=', '.join(too_big.mapped('name')), mb=limit // 2**20))
        stored, warnings = [], []
        uploads = self.attachment_ids
        for attachment in uploads:
            name = clean_filename(attachment.name)
            if name.lower().endswith('.zip'):
                stored += self._unzip(attachment, name, warnings)
            else:
                stored.append(project._upload_file(name, attachment.raw or b''))
        # The upload widget's copies are stored on the project now: drop them so the
        # filestore does not keep every file twice (only the user's own loose uploads).
        self.attachment_ids = [(5, 0, 0)]
        uploads.filtered(lambda a: not a.res_model and a.create_uid == self.env.user).unlink()
        lines, taken, documents = [], set(), 0
        for attachment in stored:
            if not tabular.is_tabular(attachment.name):
                documents += 1
                continue
            try:
                tables = tabular.open_tables(attachment.name, project._attachment_opener(attachment))
                for table in tables:
                    headers = table.headers()
                    sheet = getattr(table, 'sheet', False) or False
                    # The same file again (same name: the same stored attachment) stays with the object it was
                    # bound to, whatever its columns say now.
                    obj = project.object_ids.filtered(
                        lambda o, a=attachment, s=sheet: o.attachment_id == a and (o.sheet_name or False) == s
                        and not o.source_object and o not in taken)[:1] \
                        or binding.detect_object(project, table.label, [k for k, _l in headers], taken)
                    taken.add(obj)
                    row_count = table.count()
                    if not row_count:
                        warnings.append(self.env._("%s has a header but no rows.", table.label))
                    lines.append({
                        'sequence': len(lines),
                        'attachment_id': attachment.id,
                        'sheet_name': sheet,
                        'table_name': table.label,
                        'object_id': obj.id,
                        'row_count': row_count,
                        'columns': ', '.join(label for _key, label in headers),
                        'encoding': getattr(table, 'encoding', False) or False,
                        'delimiter': {'\t': 'tab'}.get(getattr(table, 'delimiter', ''),
                                                       getattr(table, 'delimiter', False)) or False,
                    })
            except SourceFormatError as error:
                # Refused whole: a table read in part would load fewer rows than the file has.
                raise UserError(self.env._("%(error)s. Nothing was loaded from this upload.",
                                           error=str(error).rstrip('.'))) from None
            except (UnicodeError, MemoryError, *ZIP_ERRORS) as error:
                raise UserError(self.env._("%(file)s could not be read (%(error)s). Nothing was loaded from "
                                           "this upload.", file=attachment.name, error=error)) from None
        self.write({
            'state': 'review',
            'line_ids': [(5, 0, 0)] + [(0, 0, values) for values in lines],
            'document_count': documents,
            'warnings': '\n'.join(warnings) or False,
        })
        return self._reopen()

    def action_confirm(self):
        """Bind each table to its object and propose the mapping of its columns (to review and confirm)."""
        self.ensure_one()
        try:
            return self._confirm()
        except SourceFormatError as error:
            raise UserError(self.env._("%(error)s. Nothing was loaded from this upload.",
                                       error=str(error).rstrip('.'))) from None

    def _confirm(self):
        project = self.project_id
        if project.run_ids.filtered(lambda r: r.state in ('queued', 'running')):
            raise UserError(self.env._("A run of this project is queued or running: upload when it has finished."))
        chosen = self.line_ids.filtered('object_id')
        # Bound before under a mapping a person confirmed: whether it loads stays their choice.
        reviewed = project.object_ids.filtered(binding.is_reviewed)
        if len(chosen.object_id) != len(chosen):
            raise UserError(self.env._("Two tables load as the same object; keep one per object."))
        tables = {}
        for line in chosen:
            opener = project._attachment_opener(line.attachment_id)
            if line.sheet_name:
                table = tabular.XlsxTable(line.object_id.name, line.table_name, opener, line.sheet_name)
            else:
                table = tabular.CsvTable(line.object_id.name, line.table_name, opener)
            tables[line.object_id] = table
        # Ids of every table first: a column holding another table's ids is proposed as a lookup of it.
        ids_of = binding.known_ids(project, tables)
        for line in chosen:
            binding.bind_table(line.object_id, line.attachment_id, tables[line.object_id], line.sheet_name,
                               ids_of=ids_of)
        bound = chosen.object_id
        # Objects reading the table of a bound object (a customer row -> its contact person too).
        for obj in project.object_ids.filtered(lambda o: o.source_object and o._table_object() in chosen.object_id):
            primary = obj._table_object()
            opener = project._attachment_opener(primary.attachment_id)
            if primary.sheet_name:
                table = tabular.XlsxTable(obj.name, primary.attachment_id.name, opener, primary.sheet_name)
            else:
                table = tabular.CsvTable(obj.name, primary.attachment_id.name, opener)
            binding.bind_table(obj, primary.attachment_id, table, primary.sheet_name)
            bound |= obj
        (project.object_ids - bound).filtered(lambda o: not o.attachment_id).write({'enabled': False})
        (bound - reviewed).filtered(lambda o: not o.enabled).write({'enabled': True})
        project._apply_field_definitions(
            {obj: tables[obj].iter_rows() for obj in definitions.definition_objects(project) & chosen.object_id},
            api=False)
        return actions.form_action(project._name, project.id)

    def _max_upload_bytes(self):
        megabytes = self.env['ir.config_parameter'].sudo().get_param('crm_migration.max_upload_mb', '1024')
        return int(megabytes) * 2**20

    def _reopen(self):
        return actions.form_action(self._name, self.id, dialog=True)

    def _unzip(self, attachment, zip_name, warnings):
        stored = []
        try:
            archive = open_zip(attachment.raw or b'')
        except ZIP_ERRORS:
            raise UserError(self.env._("%s is not a valid ZIP file.", zip_name)) from None
        with archive:
            infos = archive.infolist()
            members = [m for m in infos
                       if not m.is_dir() and not m.filename.startswith('__MACOSX/')
                       and not os.path.basename(m.filename.rstrip('/')).startswith('.')]
            if len(members) > MAX_MEMBERS:
                raise UserError(self.env._("%(zip)s holds %(count)s files, more than the %(max)s an upload can take.",
                                           zip=zip_name, count=len(members), max=MAX_MEMBERS))
            if sum(m.file_size for m in members) > MAX_UNZIPPED \
                    or any(m.file_size > min(MAX_MEMBER, self._max_upload_bytes()) for m in members):
                raise UserError(self.env._("%s is too large once unzipped.", zip_name))
            if len(infos) > len(members):
                warnings.append(self.env._(
                    "%(zip)s: %(count)s entries ignored (folders, __MACOSX and hidden files).",
                    zip=zip_name, count=len(infos) - len(members)))
            seen = set()
            encrypted = [zip_member_name(m) for m in members if m.flag_bits & 0x1]
            if encrypted:
                # zipfile asks for a password with a RuntimeError: say it before reading anything.
                raise UserError(self.env._("%(zip)s: %(name)s is password-protected; export or zip it again without a "
                                           "password. Nothing was loaded from this upload.",
                                           zip=zip_name, name=encrypted[0]))
            for member in members:
                name = zip_member_name(member)
                if name in seen:
                    warnings.append(self.env._(
                        "%(zip)s: %(name)s appears twice (in two folders); the last one is kept.",
                        zip=zip_name, name=name))
                seen.add(name)
                try:
                    content = archive.read(member)
                except ZIP_ERRORS as error:
                    if tabular.is_tabular(name):
                        raise UserError(self.env._("%(zip)s: %(name)s is damaged (%(error)s). Nothing was loaded "
                                                   "from this upload.", zip=zip_name, name=name, error=error)) from None
                    # A document: its row fails at the run with this reason, the others land.
                    warnings.append(self.env._("%(zip)s: %(name)s is damaged (%(error)s) and was not stored.",
                                               zip=zip_name, name=name, error=error))
                    continue
                stored.append(self.project_id._upload_file(name, content))
        return stored
