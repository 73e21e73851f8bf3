# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..connectors import mapper, proposal
from ..connectors.tabular import normalize_header
from ..services.constants import ACTION_PREFIX, ACTIVITY_PREFIX, ALLOWED_ACTIONS, WRITE_BACK_KEY, selection_keys

# Written by the proposal itself: they do not change what loads.
PROPOSAL_ONLY_FIELDS = {'note', 'confidence', 'reason', 'sample_values'}
NEW_FIELD_TYPES = [
    ('char', 'Text (single line)'),
    ('text', 'Text (multi-line)'),
    ('html', 'Rich text'),
    ('integer', 'Integer'),
    ('float', 'Decimal'),
    ('monetary', 'Monetary'),
    ('boolean', 'Checkbox'),
    ('date', 'Date'),
    ('datetime', 'Date and time'),
    ('selection', 'Selection (dropdown)'),
    ('many2one', 'Link to a record'),
]


class CrmMigrationField(models.Model):
    _name = 'crm.migration.field'
    _description = 'CRM Migration Field Mapping'
    _order = 'object_id, sequence, id'

    object_id = fields.Many2one('crm.migration.object', required=True, ondelete='cascade', index=True)
    project_id = fields.Many2one(related='object_id.project_id', store=True, index=True)
    company_id = fields.Many2one(related='object_id.company_id', store=True)
    sequence = fields.Integer(default=10)
    enabled = fields.Boolean(default=True)

    # Source
    source_fields = fields.Char(
        'Source columns', help="Comma-separated source columns (normalised names). Several columns are "
                               "joined by 'Concatenate' or searched in order by the phone transforms.")
    source_candidates = fields.Json(
        help="Template alternatives, one list per column: the first present in the file is used.", copy=True)
    source_label = fields.Char('Column', compute='_compute_source_label',
                               help="The column(s) as the file names them.")
    sample_values = fields.Char('Sample values', readonly=True,
                                help="The first distinct values of the column in the uploaded file.")

    # Target
    target_field = fields.Char(required=True, help="Field of the target model, an x_ field to create, "
                                                   "or activity.<field> for the scheduled activity.")
    target_model = fields.Char(related='object_id.target_model')
    target_field_id = fields.Many2one(
        'ir.model.fields', string='Target field',
        compute='_compute_target_field_id', inverse='_inverse_target_field_id',
        domain="[('model', '=', target_model), ('store', '=', True), ('ttype', 'not in', ('one2many', 'binary'))]",
        context={'hide_model': True},
        help="The field of the target model this column feeds, by its label. A new x_ field is created on "
             "confirmation (its label is the column's).")
    value_map_count = fields.Integer('Mapped values', compute='_compute_value_map_count')
    target_description = fields.Char(compute='_compute_target_info')
    target_ttype = fields.Char('Target type', compute='_compute_target_info')
    is_new_field = fields.Boolean('To create', compute='_compute_target_info')
    new_field_type = fields.Selection(NEW_FIELD_TYPES, default='char')
    new_field_label = fields.Char()
    new_field_relation = fields.Char(help="Model linked by a new 'Link to a record' field.")
    new_field_selection = fields.Text(help="Values of a new selection field, one per line.")

    # Transformation
    transform = fields.Selection([
        ('direct', 'Copy'),
        ('concat', 'Concatenate'),
        ('value_map', 'Value map'),
        ('first_phone', 'First phone number'),
        ('other_phones', 'Other phone numbers'),
        ('email', 'E-mail'),
        ('lookup', 'Look up a migrated record'),
        ('user', 'User by e-mail'),
        ('file', 'File content'),
        ('product', 'Product by code or name'),
        ('is_set', 'Yes when the source has a value'),
        ('is_empty', 'Yes when the source is empty'),
        ('absolute', 'Number without its sign'),
        ('duration', 'Minutes from the first date-time column to the second'),
    ], default='direct', required=True)
    separator = fields.Char(default=' ', help="Joins concatenated columns.")
    lookup_object_id = fields.Many2one(
        'crm.migration.object', string='Looked-up object', ondelete='restrict',
        domain="[('project_id', '=', project_id)]")
    default_value = fields.Char(help="Used when the source is empty, or for a value missing from the value map.")
    required = fields.Boolean(help="A row where this is empty fails with a clear reason.")
    optional = fields.Boolean(help="For links by name: when no record has that name, leave the field empty "
                                   "with a warning instead of failing the row.")
    create_missing = fields.Boolean(
        help="For links by name (stage, tag, lost reason): create the record when none has that name.")
    value_map_ids = fields.One2many('crm.migration.value.map', 'field_id', string='Value map', copy=True)
    write_to_object_id = fields.Many2one(
        'crm.migration.object', string='Write on the looked-up', ondelete='cascade',
        domain="[('project_id', '=', project_id)]",
        help="Write the value on the record this row looks up in that object (a patient's list of "
             "practitioners from its appointments) instead of on the row's own record.")
    write_mode = fields.Selection([('set', 'Replace'), ('append', 'Add as a line, once'), ('sum', 'Total'),
                                   ('record', "Link this row's record")],
                                  default='set',
                                  help="Add: every distinct value on its own line, so a rerun adds nothing twice. "
                                       "Total: the sum over all rows pointing to the record (a trust balance), "
                                       "recomputed when the object has loaded. Link: the record this row made, "
                                       "when the source value is set (a client's pricelist on the client).")
    note = fields.Char(readonly=True, help="Why this line is in its current state (set when a file is bound).")
    max_length = fields.Integer(
        help="Longer source values are cut to this many characters (flagged by the audit and the sample diff).")
    confidence = fields.Float(readonly=True, digits=(3, 2), help="How sure the proposal is, 0 to 1.")
    from_definition = fields.Boolean(
        'Typed from the source', readonly=True,
        help="Type and options come from the source's custom-field definition. Reading the source again "
             "only adds new options; what was changed on the line stays.")
    definition_options = fields.Text(
        readonly=True, help="The options the source's definition declared when it was last read, one per line: "
                            "only options declared since are added, so one removed here stays removed.")
    reason = fields.Char(readonly=True, help="Why this mapping was proposed.")

    @api.depends('source_fields', 'object_id.source_columns')
    def _compute_source_label(self):
        for line in self:
            labels = dict(line.object_id.source_columns or [])
            line.source_label = ' + '.join(labels.get(c) or c for c in line._source_list())

    @api.depends('target_field', 'object_id.target_model', 'write_to_object_id.target_model')
    def _compute_target_field_id(self):
        Fields = self.env['ir.model.fields'].sudo()
        for line in self:
            model = (line.write_to_object_id or line.object_id).target_model
            found = Fields.search([('model', '=', model), ('name', '=', line.target_field)], limit=1) \
                if model and line.target_field and not line.target_field.startswith(ACTIVITY_PREFIX) else Fields
            line.target_field_id = found.sudo(False)

    def _inverse_target_field_id(self):
        for line in self.filtered('target_field_id'):
            line.target_field = line.target_field_id.name

    @api.depends('value_map_ids')
    def _compute_value_map_count(self):
        for line in self:
            line.value_map_count = len(line.value_map_ids)

    @api.depends('target_field', 'object_id.target_model', 'new_field_type')
    def _compute_target_info(self):
        for line in self:
            if (line.target_field or '').startswith(ACTION_PREFIX):
                line.is_new_field, line.target_ttype = False, 'boolean'
                line.target_description = self.env._("Run %s", line.target_field[len(ACTION_PREFIX):])
                continue
            field = line._target_odoo_field()
            line.is_new_field = not field and (line.target_field or '').startswith('x_')
            line.target_ttype = field.type if field else line.new_field_type
            line.target_description = field.string if field else line.new_field_label

    @api.constrains('target_field', 'transform', 'lookup_object_id')
    def _check_target(self):
        for line in self:
            name = line.target_field or ''
            if line.transform == 'lookup' and not line.lookup_object_id:
                raise ValidationError(self.env._("Mapping to %s looks up a record: choose the object.", name))
            if line._target_odoo_field() or not line.object_id.model_installed:
                continue
            if name.startswith(ACTION_PREFIX):
                allowed = ALLOWED_ACTIONS.get(line.object_id.target_model, ())
                if name[len(ACTION_PREFIX):] not in allowed:
                    raise ValidationError(self.env._(
                        "%(target)s: the methods a row may run on %(model)s are %(allowed)s.", target=name,
                        model=line.object_id.target_model, allowed=', '.join(allowed) or '-'))
                continue
            if name.startswith(ACTIVITY_PREFIX):
                raise ValidationError(self.env._("mail.activity has no field %s.", name[len(ACTIVITY_PREFIX):]))
            if not name.startswith('x_'):
                raise ValidationError(self.env._(
                    "%(model)s has no field %(field)s. New fields must start with x_.",
                    model=(line.write_to_object_id or line.object_id).target_model, field=name))
            if name != normalize_header(name) or len(name) > 63:
                raise ValidationError(self.env._(
                    "%s is not a valid field name (lowercase letters, digits and _, at most 63).", name))

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            # Picked by its label on the mapping screen (the technical name is for developer mode).
            if not vals.get('target_field') and vals.get('target_field_id'):
                vals['target_field'] = self.env['ir.model.fields'].sudo().browse(vals['target_field_id']).name
        lines = super().create(vals_list)
        lines.project_id._mapping_changed()
        return lines

    def write(self, vals):
        # Only a value that really changes asks for a new confirmation (x2many commands always do).
        watched = set(vals) - PROPOSAL_ONLY_FIELDS
        relational = {name for name in watched if self._fields[name].type in ('one2many', 'many2many')}
        before = {line: {name: line[name] for name in watched - relational} for line in self}
        result = super().write(vals)
        changed = self if relational else self.filtered(
            lambda line: any(line[name] != value for name, value in before[line].items()))
        if changed:
            changed.project_id._mapping_changed()
        return result

    def unlink(self):
        projects = self.project_id
        result = super().unlink()
        projects._mapping_changed()
        return result

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------
    def action_open_value_map(self):
        """The value map of this line as a list to fill in: every distinct value of its column in the
        file with its row count, and the values the map names already (``crm.migration.value.map.edit``)."""
        self.ensure_one()
        counts = self._source_value_counts()
        entries = {mapper.normalize_key(v.source_value): v for v in self.value_map_ids}
        rows = []
        for value, count in counts.items():
            entry = entries.pop(mapper.normalize_key(value), None)
            rows.append((0, 0, {'source_value': value, 'row_count': count,
                                'target_value': entry.target_value if entry else False,
                                'map_id': entry.id if entry else False}))
        for entry in entries.values():  # mapped, but not in this file
            rows.append((0, 0, {'source_value': entry.source_value, 'row_count': 0, 'target_value': entry.target_value,
                                'map_id': entry.id}))
        editor = self.env['crm.migration.value.map.edit'].create({'field_id': self.id, 'line_ids': rows})
        return {
            'type': 'ir.actions.act_window', 'res_model': editor._name, 'res_id': editor.id, 'view_mode': 'form',
            'target': 'new', 'name': self.env._("Value map: %(column)s to %(target)s", column=self.source_label or '-',
                                                target=self.target_description or self.target_field),
        }

    def _source_value_counts(self, limit=100000):
        """``{value: rows}`` of this line's first column in the uploaded file (first ``limit`` rows)."""
        self.ensure_one()
        obj, columns = self.object_id, self._source_list()
        if not columns or not obj.attachment_id or not obj.project_id._is_file_source():
            return {}
        counts = {}
        for index, row in enumerate(obj.project_id._get_source().iter_rows(obj._source_name())):
            if index >= limit:
                break
            value = mapper.value_to_text(row.get(columns[0])).strip()
            if value:
                counts[value] = counts.get(value, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------
    def _target_odoo_field(self):
        """The ORM field this line writes, or None when it is still to be created."""
        self.ensure_one()
        name = self.target_field or ''
        model = (self.write_to_object_id or self.object_id).target_model
        if name.startswith(ACTIVITY_PREFIX):
            model, name = 'mail.activity', name[len(ACTIVITY_PREFIX):]
        if model not in self.env:
            return None
        return self.env[model]._fields.get(name)

    def _source_list(self):
        return [s.strip() for s in (self.source_fields or '').split(',') if s.strip()]

    def _selection_values(self):
        """``[(key, label)]`` accepted by a selection target."""
        field = self._target_odoo_field()
        if field:
            if field.type != 'selection':
                return []
            selection = field.selection
            if callable(selection) or isinstance(selection, str):
                return field._description_selection(self.env)
            return list(selection)
        values = [v.strip() for v in (self.new_field_selection or '').splitlines() if v.strip()]
        return selection_keys(values)

    def _spec_dict(self):
        return {
            'target': self.target_field,
            'sources': self._source_list(),
            'transform': self.transform,
            'separator': self.separator or '',
            'value_map': {v.source_value or '': v.target_value or '' for v in self.value_map_ids},
            'default': self.default_value,
            'required': self.required,
            'lookup': self.lookup_object_id.name,
            'write_to': [self.write_to_object_id.name, self.write_mode],
            'max_length': self.max_length,
            'new': [self.new_field_type, self.new_field_relation, self.new_field_selection],
        }

    def _spec(self):
        """This line as the pure mapper's :class:`~..connectors.mapper.FieldSpec`."""
        self.ensure_one()
        field = self._target_odoo_field()
        value_map = {v.source_value or '': v.target_value or '' for v in self.value_map_ids}
        is_action = (self.target_field or '').startswith(ACTION_PREFIX)
        return mapper.FieldSpec(
            target=(WRITE_BACK_KEY % (self.write_to_object_id.name, self.write_mode, self.target_field)
                    if self.write_to_object_id else self.target_field),
            ttype='boolean' if is_action else field.type if field else self.new_field_type,
            sources=tuple(self._source_list()),
            transform=self.transform,
            separator=self.separator if self.separator is not False else '',
            value_map=value_map if (value_map or self.transform == 'value_map') else None,
            default=self.default_value or None,
            required=self.required,
            lookup_object=self.lookup_object_id.name or None,
            selection=tuple(self._selection_values()),
            relation=(field.comodel_name if field and field.type in ('many2one', 'many2many')
                      else self.new_field_relation),
            label=self.target_description or self.target_field,
            size=self.max_length or None,
            key_separator=(proposal.KEY_SEPARATOR if self.transform == 'lookup' and len(self._source_list()) > 1
                           and len(self._source_list()) == len(self.lookup_object_id._key_columns()) else None),
        )
