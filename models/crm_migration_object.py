# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..connectors import mapper as mapping
from ..connectors import proposal
from ..services import actions
from ..services.constants import DEFINITION_MODEL, LIVE_OPERATIONS

# Object settings that change what loads (file bindings and counts do not).
MAPPING_FIELDS = {'enabled', 'source_key', 'target_model', 'dedup_field', 'match_existing', 'sequence',
                  'create_records', 'create_partner', 'deletes_object_id', 'source_object', 'row_filter'}


class CrmMigrationObject(models.Model):
    _name = 'crm.migration.object'
    _description = 'CRM Migration Source Object'
    _order = 'project_id, sequence, id'
    _rec_name = 'label'  # the source object's own word (Patients), not its key (patients)

    project_id = fields.Many2one('crm.migration.project', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='project_id.company_id', store=True)
    name = fields.Char('Technical name', required=True, help="Key of the source object (file or API resource).")
    label = fields.Char(required=True)
    sequence = fields.Integer(
        default=10, help="Load order. Objects referenced by a lookup load first "
                         "(practitioners before patients before appointments before invoices).")
    enabled = fields.Boolean(default=True)
    target_model = fields.Char(required=True, help="Technical name of the Odoo model, e.g. crm.lead.")
    target_model_name = fields.Char(compute='_compute_model_installed')
    model_installed = fields.Boolean(compute='_compute_model_installed')

    # Source
    source_key = fields.Char('Source id column(s)', help="Column holding the record's id in the source; "
                             "comma-separated columns when only together they identify a row (invoice number, "
                             "line number): the link table then stores the values joined by '|'.")
    source_key_candidates = fields.Char(help="Comma-separated columns tried, in order, when a file is bound.")
    attachment_id = fields.Many2one('ir.attachment', string='Source file', ondelete='set null')
    sheet_name = fields.Char(help="Worksheet of an XLSX file.")
    file_patterns = fields.Char(help="Comma-separated words recognising this object's file name.")
    exclude_patterns = fields.Char(help="Comma-separated words that rule a file name out.")
    source_columns = fields.Json(help="Header of the bound file: [[key, label], ...].", copy=False)
    unmapped_columns = fields.Char(compute='_compute_unmapped_columns')
    row_count = fields.Integer('Rows in source', readonly=True, copy=False)

    # Matching
    dedup_field = fields.Char(
        'Duplicate key', help="Target field whose equal values flag duplicates (e.g. email): the "
                              "second record is held with an issue instead of being created or merged silently.")
    source_object = fields.Char(
        'Reads the rows of', help="Another object of the project whose table (or API object) this one reads "
                                  "too: one source row then makes a record in each (a customer row -> the "
                                  "company and its contact person).")
    row_filter = fields.Json(
        help="Only rows matching every condition load: [[column, 'in'|'not in', [values]], [column, 'set'|'not set']]. "
             "Other rows are counted as skipped, without a link: another object takes them.")
    deletes_object_id = fields.Many2one(
        'crm.migration.object', string='Deletions of', ondelete='cascade',
        help="The rows of this object are records deleted in the source (Cliniko's /deleted routes): "
             "the matching migrated records of that object are archived, reversibly.")
    definition_holders = fields.Char(
        'Fields of', help="Custom-field definitions only: the objects (technical names, comma-separated) whose "
                          "rows carry the values of these fields. Empty: any object of the field's model.")
    create_records = fields.Boolean(
        'Create missing records', default=True,
        help="Off for objects that only link to what exists (staff to Odoo users): a row with no match "
             "becomes an issue where a person picks the record, instead of a new record.")
    create_partner = fields.Boolean(
        'Create the contact', help="Leads: also create each lead's contact (res.partner), recorded with the lead.")
    match_existing = fields.Boolean(
        help="Update an Odoo record that already has the same duplicate key instead of flagging it. "
             "Its previous values are recorded for rollback.")

    field_ids = fields.One2many('crm.migration.field', 'object_id', string='Field mapping', copy=True)
    depends_on_ids = fields.Many2many('crm.migration.object', compute='_compute_depends_on_ids',
                                      string='Depends on')
    record_count = fields.Integer(compute='_compute_record_counts')
    failed_count = fields.Integer(compute='_compute_record_counts')
    skipped_count = fields.Integer(compute='_compute_record_counts')
    mismatch_count = fields.Integer(compute='_compute_record_counts', help="Read-back mismatches of the last run.")

    _name_uniq = models.Constraint('unique(project_id, name)', 'Each source object appears once per project.')

    @api.depends('target_model')
    def _compute_model_installed(self):
        for obj in self:
            model = self.env['ir.model']._get(obj.target_model) if obj.target_model else False
            obj.model_installed = bool(model) and obj.target_model in self.env
            obj.target_model_name = model.name if model else False

    @api.depends('source_columns', 'field_ids.source_fields', 'field_ids.enabled', 'source_key')
    def _compute_unmapped_columns(self):
        for obj in self:
            used = set(obj._key_columns())
            for line in obj.field_ids.filtered('enabled'):
                used.update(line._source_list())
            columns = [key for key, _label in (obj.source_columns or []) if key not in used]
            obj.unmapped_columns = ', '.join(columns)

    @api.depends('field_ids.lookup_object_id', 'field_ids.enabled', 'deletes_object_id')
    def _compute_depends_on_ids(self):
        for obj in self:
            obj.depends_on_ids = (obj.field_ids.filtered('enabled').lookup_object_id | obj.deletes_object_id) - obj

    def _compute_record_counts(self):
        Record = self.env['crm.migration.record']
        main = [('object_id', 'in', self.ids)]
        total = dict(Record._read_group(main + [('operation', 'in', LIVE_OPERATIONS)],
                                        ['object_id'], ['__count']))
        failed = dict(Record._read_group(main + [('operation', '=', 'failed')], ['object_id'], ['__count']))
        skipped = dict(Record._read_group(main + [('operation', '=', 'skipped')], ['object_id'], ['__count']))
        for obj in self:
            obj.record_count = total.get(obj, 0)
            obj.failed_count = failed.get(obj, 0)
            obj.skipped_count = skipped.get(obj, 0)
            last = self.env['crm.migration.run.stat'].search(
                [('object_id', '=', obj.id), ('run_id.kind', 'in', ('sample', 'full', 'delta'))],
                order='id desc',
                limit=1,
            )
            obj.mismatch_count = last.mismatch_count

    @api.constrains('target_model')
    def _check_target_model(self):
        for obj in self:
            if not self.env['ir.model']._get(obj.target_model):
                # Not fatal: an object for an app that is not installed is kept
                # and reported; only a name that is not a model at all is refused.
                if not obj.target_model or '.' not in obj.target_model:
                    raise ValidationError(self.env._("%s is not a model name.", obj.target_model))

    def write(self, vals):
        # Only a value that really changes asks for a new confirmation: a re-upload
        # writing the same settings again leaves a reviewed project where it is.
        watched = set(vals) & MAPPING_FIELDS
        before = {obj: {name: obj[name] for name in watched} for obj in self} if watched else {}
        result = super().write(vals)
        changed = self.filtered(lambda o: any(o[name] != value for name, value in before.get(o, {}).items()))
        if changed:
            changed.project_id._mapping_changed()
        return result

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------
    def action_open_fields(self):
        self.ensure_one()
        return actions.list_action(self.env._('Field mapping: %s', self.label), 'crm.migration.field',
                                   [('object_id', '=', self.id)], {'default_object_id': self.id})

    def action_open_records(self):
        self.ensure_one()
        return actions.list_action(self.env._('Records: %s', self.label), 'crm.migration.record',
                                   [('object_id', '=', self.id)])

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------
    def _sorted_for_load(self):
        """Dependency order: every object after the objects its lookups point to.

        Ties keep the configured sequence, so a consultant's order wins where
        the mapping does not impose one.
        """
        # Definition objects are read into the mapping (Read structure), never loaded.
        loadable = self.filtered(lambda o: o.target_model != DEFINITION_MODEL)
        ordered, pending = self.browse(), loadable.sorted(lambda o: (o.sequence, o.id))
        while pending:
            ready = pending.filtered(lambda o, pending=pending: not ((o.depends_on_ids & pending) - o))
            if not ready:
                raise ValidationError(self.env._(
                    "These objects look each other up in a cycle: %s",
                    ', '.join(pending.mapped('label'))))
            ordered |= ready[0]
            pending -= ready[0]
        return ordered

    def _source_name(self):
        """The source table or API object this object reads."""
        return self.source_object or self.name

    def _table_object(self):
        """The object holding the file binding of the rows this object reads."""
        return self.project_id.object_ids.filtered(lambda o: o.name == self._source_name())[:1] or self

    def _row_matches(self, row):
        for condition in self.row_filter or ():
            column, operator = condition[0], condition[1]
            if isinstance(column, list):  # alternatives, as the column names of exports vary
                column = next((c for c in column if c in row), column[0])
            value = mapping.normalize_key(row.get(column))
            if operator in ('in', 'not in'):
                wanted = {mapping.normalize_key(v) for v in condition[2]}
                if (value in wanted) != (operator == 'in'):
                    return False
            elif operator in ('set', 'not set') and bool(value) != (operator == 'set'):
                return False
        return True

    def _holder_names(self):
        return tuple(name.strip() for name in (self.definition_holders or '').split(',') if name.strip())

    def _header_keys(self):
        return [key for key, _label in (self.source_columns or [])]

    def _key_columns(self):
        return proposal.key_columns(self.source_key)

    def _row_source_id(self, row):
        """The source id of a row: its id column's value, or the id columns' values joined."""
        return proposal.source_id_of(row, self._key_columns())

    def _key_labels(self):
        """The id column(s) as the file names them, for messages."""
        labels = dict(self.source_columns or [])
        return ', '.join(labels.get(c) or c for c in self._key_columns())

    def _candidate_list(self):
        return [c.strip() for c in (self.source_key_candidates or '').split(',') if c.strip()]

    def _mapping_signature(self):
        """A digest input that changes whenever the mapping of this object changes."""
        return json.dumps([line._spec_dict() for line in self.field_ids.filtered('enabled')],
                          sort_keys=True, default=str)
