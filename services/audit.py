# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pre-migration audit: read every row once, write nothing, report what needs a person.

Findings become ``crm.migration.issue`` rows: duplicates (same e-mail, same
name and date of birth, same source id twice, or an Odoo record a person or
another project made with the same match keys: see ``matching``), orphans
(a reference to a record missing from its file), unmatched users (an owner e-mail no Odoo user has: the reconciliation queue),
values too long for their target, invalid values (dates, numbers, e-mails,
selections, unmapped statuses) and required targets left empty.  A decision
already taken on an issue (resolved or accepted) survives a new audit.
"""
import collections

from odoo import fields

from ..connectors import mapper as mapping
from . import matching
from .constants import owner_domain
from .loader import _dedup_key, build_mapper

AUDIT_KINDS = ('duplicate', 'orphan', 'unmatched_user', 'too_long', 'invalid')


class Audit:

    def __init__(self, project):
        self.project = project
        self.env = project.env
        Issue = self.env['crm.migration.issue']
        Issue.search([('project_id', '=', project.id), ('state', '=', 'open'), ('kind', 'in', AUDIT_KINDS)]).unlink()
        self.decided = {(i.object_id.id, i.kind, i.source_id) for i in Issue.search([
            ('project_id', '=', project.id), ('state', '!=', 'open')])}
        self.issues = {}
        self.ids = {}
        self.existing = {}  # object name -> {source id: id of the Odoo record it already is}
        self.users = {}
        self.owner_rows = collections.Counter()

    def add(self, obj, kind, source_id, message, related=None, res_model=None, res_id=None):
        key = (obj.id, kind, source_id)
        if key in self.decided or key in self.issues:
            return
        self.issues[key] = {
            'project_id': self.project.id, 'object_id': obj.id, 'kind': kind, 'source_id': source_id,
            'message': message, 'related_source_id': related or False, 'blocking': True,
            'res_model': res_model or False, 'res_id': res_id or False,
        }

    def run(self):
        source = self.project._get_source()
        for obj in self.project.object_ids.filtered('enabled')._sorted_for_load():
            self.audit_object(obj, source)
        for values in self.issues.values():
            if values['kind'] == 'unmatched_user':
                values['message'] = self.env._(
                    "No Odoo user has the e-mail or login %(login)s (%(rows)s rows). Pick the user who takes "
                    "these records over, or accept to leave the field empty.",
                    login=values['source_id'], rows=self.owner_rows[values['source_id']])
        issues = self.env['crm.migration.issue'].create(list(self.issues.values()))
        self.project.write({'audit_date': fields.Datetime.now()})
        return issues

    def audit_object(self, obj, source):
        env = self.env
        mapper = build_mapper(obj)
        # The object's hold-back key, else any e-mail it maps: two patients with
        # one address are worth a look even when nothing holds them back.
        dedup_field = obj.dedup_field if obj.dedup_field in env[obj.target_model]._fields else next(
            (spec.target for spec in mapper.specs if spec.transform == 'email'), None)
        names_and_births = 'x_date_of_birth' in {spec.target for spec in mapper.specs} and obj.target_model == 'crm.lead'
        ids, first_by_key, first_by_person = set(), {}, {}
        # Rows an Odoo record may already stand for (a person's, an earlier project's): by match keys.
        keys = matching.match_keys(obj)
        key_fields = {name for key in keys for name in key}
        keyed = []
        for row in source.iter_rows(obj._source_name()):
            if not obj._row_matches(row):
                continue
            source_id = obj._row_source_id(row) if obj.source_key else ''
            if not source_id:
                self.add(obj, 'invalid', 'line %s' % row.get('_line_nr'), env._(
                    "Line %(line)s has no value in the id column(s) %(column)s.",
                    line=row.get('_line_nr'), column=obj._key_labels()))
                continue
            if source_id in ids:
                self.add(obj, 'duplicate', source_id, env._("Source id %s appears twice in the file.", source_id))
                continue
            ids.add(source_id)
            values, problems = mapper.map_row(row)
            blocking = [p.message for p in problems if p.blocking]
            if blocking:
                self.add(obj, 'invalid', source_id, '; '.join(blocking))
            too_long = [p.message for p in problems if not p.blocking and 'truncated' in p.message]
            if too_long:
                self.add(obj, 'too_long', source_id, '; '.join(too_long))
            for value in values.values():
                self.check_reference(obj, source_id, value)
            if key_fields:
                keyed.append((source_id, {name: self.existing_ref(values.get(name)) for name in key_fields}))
            key = _dedup_key(values.get(dedup_field)) if dedup_field else None
            if key:
                if key in first_by_key:
                    self.add(obj, 'duplicate', source_id, env._(
                        "%(field)s %(value)s is also on source record %(other)s.",
                        field=dedup_field, value=values.get(dedup_field), other=first_by_key[key]),
                        related=first_by_key[key])
                else:
                    first_by_key[key] = source_id
            if names_and_births and values.get('name') and values.get('x_date_of_birth'):
                person = (str(values['name']).casefold().strip(), values['x_date_of_birth'])
                if person in first_by_person:
                    self.add(obj, 'duplicate', source_id, env._(
                        "Same name and date of birth as source record %s: probably the same person.",
                        first_by_person[person]), related=first_by_person[person])
                else:
                    first_by_person[person] = source_id
        self.ids[obj.name] = ids
        if keyed and not obj.match_existing and obj.create_records:
            found = matching.find_existing(obj, keyed, keys)
            for source_id, (record, key) in found.items():
                self.add(obj, 'duplicate', source_id, matching.describe(obj, record, key),
                         res_model=obj.target_model, res_id=record.id)
            self.existing[obj.name] = {source_id: record.id for source_id, (record, _key) in found.items()}

    def existing_ref(self, value):
        """A reference to a row an existing record stands for, as that record's id: an invoice line
        is the same line when its invoice is an existing order. Other references match nothing yet."""
        if isinstance(value, mapping.LookupRef):
            return self.existing.get(value.object, {}).get(value.source_id)
        return value

    def check_reference(self, obj, source_id, value):
        for ref in (value if isinstance(value, list) else [value]):
            if isinstance(ref, mapping.LookupRef) and ref.object in self.ids and ref.source_id not in self.ids[ref.object]:
                self.add(obj, 'orphan', source_id, self.env._(
                    "Refers to %(object)s %(id)s, which is not in the %(object)s file.",
                    object=ref.object, id=ref.source_id), related=ref.source_id)
            elif isinstance(ref, mapping.UserRef):
                login = ref.login.casefold()
                if login not in self.users:
                    self.users[login] = bool(self.env['res.users'].search_count(owner_domain(ref.login), limit=1))
                if not self.users[login]:
                    self.owner_rows[login] += 1
                    self.add(obj, 'unmatched_user', login, '')



def run_audit(project):
    return Audit(project).run()
