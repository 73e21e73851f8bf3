# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pre-migration audit: read every row once, write nothing, report what needs a person.

Findings become ``crm.migration.issue`` rows: duplicates (same e-mail, same
name and date of birth, same source id twice, or an Odoo record a person or
another project made with the same match keys: see ``matching``), orphans
(a reference to a record missing from its file), unmatched users (an owner
e-mail no Odoo user has: the reconciliation queue), values too long for their
target, invalid values (unmapped statuses, required targets left empty), and
per line or rule (``row_findings``): values a line's type cannot hold (dates,
numbers, e-mails, selections), values contradicting each other and bank
accounts without a journal.  A decision already taken on an issue (resolved or
accepted) survives a new audit.
"""
import collections

from odoo import fields

from ..connectors import converters
from ..connectors import mapper as mapping
from ..connectors.converters import is_empty
from . import mapping_audit, matching, row_findings
from .constants import LIVE_OPERATIONS, like_exact, owner_domain
from .loader import _dedup_key, build_mapper, source_person_name

AUDIT_KINDS = ('duplicate', 'orphan', 'unmatched_user', 'too_long', 'invalid', 'unmapped_value', 'unmatched_product',
               'contradiction', 'type_mismatch', 'missing_journal')


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
        # Value-map and product gaps, per distinct value (count_mapping_gaps).
        self.mapping_gaps, self.product_found = {}, {}
        # Match-only objects (users, practitioners): source rows no Odoo record
        # answers, and how many rows of each object point to them.
        self.unmatched = {}
        self.pointers = collections.defaultdict(lambda: collections.defaultdict(set))
        # Contradictions, values not fitting their type, unknown journals: one issue per cause.
        self.findings = row_findings.RowFindings(self)

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
        self.match_only = set(self.project.object_ids.filtered(lambda o: o.enabled and not o.create_records)
                              .mapped('name'))
        for obj in self.project.object_ids.filtered('enabled')._sorted_for_load():
            reads = getattr(source, 'audit_reads', None)  # file sources read everything
            if reads and not reads(obj._source_name()):
                continue
            self.audit_object(obj, source)
        self.add_unmatched_targets()
        for values in self.issues.values():
            if values['kind'] == 'unmatched_user' and not values['message']:
                values['message'] = self.env._(
                    "No Odoo user has the e-mail or login %(login)s (%(rows)s rows). Pick the user who takes "
                    "these records over, or accept to leave the field empty.",
                    login=values['source_id'], rows=self.owner_rows[values['source_id']])
        add_mapping_gap_issues(self)
        mapping_audit.add_missing_column_issues(self)
        self.findings.add_issues()
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
        names_and_births = (
            'x_date_of_birth' in {spec.target for spec in mapper.specs} and obj.target_model == 'crm.lead'
        )
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
            count_mapping_gaps(self, obj, mapper, row)
            if not obj.create_records:
                self.check_match_only(obj, source_id, row, values)
            self.findings.note(obj, source_id, values, problems)
            # A value its line's type cannot hold is listed once per line (row_findings), not per row.
            blocking = [p.message for p in problems if p.blocking and not (p.value is not None and p.field)]
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
            if isinstance(ref, mapping.LookupRef) and ref.object in self.ids and ref.object in self.match_only \
                    and ref.source_id not in self.ids[ref.object]:
                # An owner the source does not list (a deleted user): as unmatched as one it lists.
                self.unmatched.setdefault(ref.object, {}).setdefault(ref.source_id, ('', ''))
            if isinstance(ref, mapping.LookupRef) and ref.source_id in self.unmatched.get(ref.object, ()):
                self.pointers[(ref.object, ref.source_id)][obj.name].add(source_id)
            elif (
                isinstance(ref, mapping.LookupRef)
                and ref.object in self.ids
                and ref.source_id not in self.ids[ref.object]
            ):
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

    def check_match_only(self, obj, source_id, row, values):
        """Remember a row of a match-only object that no Odoo record answers.

        The rows pointing to it are counted by ``check_reference``; the run
        turns such a row into a skipped link, and the rows pointing to it
        would lose their owner silently without this.
        """
        Record = self.env['crm.migration.record']
        if Record.search_count([('object_id', '=', obj.id), ('source_id', '=', source_id),
                                ('operation', 'in', LIVE_OPERATIONS)], limit=1):
            return
        key = values.get(obj.dedup_field) if obj.dedup_field else None
        if not is_empty(key):
            Model = self.env[obj.target_model].with_context(active_test=False)
            domain = owner_domain(str(key)) if obj.target_model == 'res.users' else [(obj.dedup_field, '=', key)]
            if Model.search_count(domain, limit=1):
                return
        self.unmatched.setdefault(obj.name, {})[source_id] = (source_person_name(row), '' if is_empty(key) else key)

    def add_unmatched_targets(self):
        """One reconciliation issue per source user without an Odoo user, however many rows point to them."""
        objects = {obj.name: obj for obj in self.project.object_ids}
        for object_name, rows in self.unmatched.items():
            obj = objects[object_name]
            for source_id, (name, email) in rows.items():
                pointing = self.pointers.get((object_name, source_id), {})
                count = sum(len(rows) for rows in pointing.values())
                by_object = ', '.join('%s: %s' % (objects[n].display_name, len(rows))
                                      for n, rows in sorted(pointing.items()))
                self.add(obj, 'unmatched_user', source_id, self.env._(
                    "%(object)s %(id)s, %(name)s <%(email)s>, has no Odoo %(model)s; %(count)s records point "
                    "to it%(detail)s. Use this user, Create user, or Leave unassigned (those records land "
                    "with the field empty).",
                    object=obj.display_name, id=source_id, name=name or '?', email=email or '-',
                    model=self.env[obj.target_model]._description, count=count,
                    detail=' (%s)' % by_object if by_object else ''))


def run_audit(project):
    return Audit(project).run()


# ----------------------------------------------------------------------
# Mapping gaps: values a value map does not name, services no product matches
# ----------------------------------------------------------------------
GAP_KINDS = ('unmapped_value', 'unmatched_product')


def count_mapping_gaps(audit, obj, mapper, row):
    """Count, per distinct source value, what the mapping would not know what to do with.

    A value missing from a value map would fail its row or silently take the
    line's default; a service no product matches would land as a $0 note line.
    Both are decisions for a person, asked once per value with its row count.
    """
    gaps, products = audit.mapping_gaps, audit.product_found
    fallback = audit.project.fallback_product_id
    seen = set()
    for spec in mapper.specs:
        raw = mapper._raw(spec, row)
        if converters.is_empty(raw):
            continue
        text = mapping.value_to_text(raw).strip()
        if spec.value_map is not None and (spec.transform == 'value_map' or spec.value_map):
            key = (obj.id, 'unmapped_value', spec.sources, mapping.normalize_key(text))
            if mapping.normalize_key(text) in spec.value_map or key in seen:
                continue
            seen.add(key)  # one row counts once, however many lines read the column
            gap = gaps.setdefault(key, {'obj': obj, 'text': text, 'rows': 0, 'labels': [], 'defaults': set()})
            gap['rows'] += 1
            if (spec.label or spec.target) not in gap['labels']:
                gap['labels'].append(spec.label or spec.target)
            if spec.default not in (None, ''):
                gap['defaults'].add(spec.default)
        elif spec.transform == 'product' and not fallback:
            folded = mapping.normalize_key(text)
            if folded not in products:
                products[folded] = _product_exists(audit.env, text)
            key = (obj.id, 'unmatched_product', spec.sources, folded)
            if products[folded] or key in seen:
                continue
            seen.add(key)
            gap = gaps.setdefault(key, {'obj': obj, 'text': text, 'rows': 0, 'labels': [spec.label or spec.target],
                                        'defaults': set()})
            gap['rows'] += 1


def add_mapping_gap_issues(audit):
    env = audit.env
    for (_obj_id, kind, sources, _folded), gap in audit.mapping_gaps.items():
        column = ', '.join(sources)
        if kind == 'unmapped_value':
            if gap['defaults']:
                outcome = env._("accept to load these rows with the line's default (%s)",
                                ', '.join(sorted(gap['defaults'])))
            else:
                outcome = env._("these rows fail until it is mapped")
            message = env._(
                "%(value)r in column %(column)s (%(rows)s rows) is not in the value map of %(targets)s: add it "
                "to the value map, or %(outcome)s.", value=gap['text'], column=column, rows=gap['rows'],
                targets=', '.join(gap['labels']), outcome=outcome)
        else:
            message = env._(
                "Service %(value)r in column %(column)s (%(rows)s invoice line(s)) matches no product by internal "
                "reference or name: create the product, or set the project's product for unmatched invoice "
                "lines; accepted, these lines land as notes without a price.",
                value=gap['text'], column=column, rows=gap['rows'])
        audit.add(gap['obj'], kind, '%s: %s' % (column, gap['text']), message)


def _product_exists(env, name):
    Product = env['product.product']
    return bool(Product.search_count([('default_code', '=ilike', like_exact(name))], limit=1)
                or Product.search_count([('name', '=ilike', like_exact(name))], limit=1))
