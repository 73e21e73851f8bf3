# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pre-migration audit: read every row once, write nothing, report what needs a person.

Findings become ``crm.migration.issue`` rows: duplicates (same e-mail, same
name and date of birth, same source id twice, or an Odoo record a person or
another project made with the same match keys: see ``matching``), orphans
(a reference to a record missing from its file), unmatched users (an owner
e-mail no Odoo user has: the reconciliation queue), values too long for their
target, invalid values (unmapped statuses, required targets left empty), and per
line or rule (``row_findings``): values a line's type cannot hold (dates,
numbers, e-mails, selections), values contradicting each other and bank
accounts without a journal.  A decision already taken on an issue (resolved or
accepted) survives a new audit.
"""
import collections
import itertools

from odoo import fields

from ..connectors import converters
from ..connectors import mapper as mapping
from ..connectors.converters import is_empty
from . import mapping_audit, matching, row_findings
from .constants import LIVE_OPERATIONS, like_exact, owner_domain
from .loader import _dedup_key, build_mapper, source_person_name

AUDIT_KINDS = ('duplicate', 'orphan', 'unmatched_user', 'too_long', 'invalid', 'unmapped_value', 'unmatched_product',
               'contradiction', 'type_mismatch', 'missing_journal')
# Rows per audit batch, at least (the project's batch size when larger): a row costs less to
# audit than to load, but an appointment with its date-times, lookups and rules still costs
# ~10 ms on a busy server, and the time box is only checked between batches.
BATCH_ROWS = 500


class Audit:
    """The audit's findings so far; ``state`` (from ``dump()``) resumes it in a later step.

    The audit reads each object once, in batches (``audit_rows``), in load order: a
    reference is checked against the ids of the objects read before it.  Everything it
    remembers between batches is in ``dump()``, so that a background step can end after
    any batch and the next one goes on where it stopped, with the same findings.
    """

    def __init__(self, project, state=None):
        self.project = project
        self.env = project.env
        Issue = self.env['crm.migration.issue']
        self.decided = {(i.object_id.id, i.kind, i.source_id) for i in Issue.search([
            ('project_id', '=', project.id), ('state', '!=', 'open')])}
        self.match_only = set(project.object_ids.filtered(lambda o: o.enabled and not o.create_records)
                              .mapped('name'))
        self._contexts = {}
        state = state or {}
        self.issues = {(v['object_id'], v['kind'], v['source_id']): v for v in state.get('issues', [])}
        self.ids = {name: set(ids) for name, ids in state.get('ids', {}).items()}
        self.existing = state.get('existing', {})  # object name -> {source id: id of the Odoo record it already is}
        self.users = state.get('users', {})
        self.owner_rows = collections.Counter(state.get('owner_rows', {}))
        # Value-map and product gaps, per distinct value (count_mapping_gaps).
        self.mapping_gaps = {}
        for key, gap in state.get('mapping_gaps', []):
            obj_id, kind, sources, folded = key
            self.mapping_gaps[(obj_id, kind, tuple(sources), folded)] = dict(
                gap, obj=project.object_ids.browse(gap['obj']), defaults=set(gap['defaults']))
        self.product_found = state.get('product_found', {})
        # Match-only objects (users, practitioners): source rows no Odoo record
        # answers, and how many rows of each object point to them.
        self.unmatched = {name: {sid: tuple(person) for sid, person in rows.items()}
                          for name, rows in state.get('unmatched', {}).items()}
        self.pointers = collections.defaultdict(lambda: collections.defaultdict(set))
        for object_name, source_id, by_object in state.get('pointers', []):
            for name, ids in by_object.items():
                self.pointers[(object_name, source_id)][name] = set(ids)
        # The object being read: ids met so far, first row of each duplicate key and person.
        current = state.get('current') or {}
        self.current_object = current.get('object_id')
        self.current_ids = set(current.get('ids', []))
        self.first_by_key = current.get('first_by_key', {})
        self.first_by_person = {tuple(person): sid for person, sid in current.get('first_by_person', [])}
        # Findings reported once per object and line or rule (row_findings), gathered row by row.
        self.findings = row_findings.RowFindings(self)
        found = state.get('row_findings') or {}
        for key, source_ids in found.get('rows', []):
            self.findings.rows[tuple(key)] = source_ids
        for key, values in found.get('values', []):
            self.findings.values[tuple(key)] = values
        self.findings.objects = {obj.id: obj for obj in project.object_ids.browse(found.get('objects', [])).exists()}
        self.findings.journals = found.get('journals', {})

    @classmethod
    def begin(cls, project):
        """A new audit: the open findings of the last one go, decisions taken on issues stay."""
        project.env['crm.migration.issue'].search([('project_id', '=', project.id), ('state', '=', 'open'),
                                                   ('kind', 'in', AUDIT_KINDS)]).unlink()
        return cls(project)

    def dump(self):
        """Everything the next batch needs, as JSON."""
        return {
            'issues': list(self.issues.values()),
            'ids': {name: sorted(ids) for name, ids in self.ids.items()},
            'existing': self.existing,
            'users': self.users,
            'owner_rows': dict(self.owner_rows),
            'mapping_gaps': [[list(key[:2]) + [list(key[2]), key[3]],
                              dict(gap, obj=gap['obj'].id, defaults=sorted(gap['defaults']))]
                             for key, gap in self.mapping_gaps.items()],
            'product_found': self.product_found,
            'unmatched': {name: {sid: list(person) for sid, person in rows.items()}
                          for name, rows in self.unmatched.items()},
            'pointers': [[object_name, source_id, {name: sorted(ids) for name, ids in by_object.items()}]
                         for (object_name, source_id), by_object in self.pointers.items()],
            'current': {'object_id': self.current_object, 'ids': sorted(self.current_ids),
                        'first_by_key': self.first_by_key,
                        'first_by_person': [[list(person), sid] for person, sid in self.first_by_person.items()]},
            'row_findings': {'rows': [[list(key), ids] for key, ids in self.findings.rows.items()],
                             'values': [[list(key), values] for key, values in self.findings.values.items()],
                             'objects': list(self.findings.objects), 'journals': self.findings.journals},
        }

    def add(self, obj, kind, source_id, message, related=None, res_model=None, res_id=None):
        key = (obj.id, kind, source_id)
        if key in self.decided or key in self.issues:
            return
        self.issues[key] = {
            'project_id': self.project.id, 'object_id': obj.id, 'kind': kind, 'source_id': source_id,
            'message': message, 'related_source_id': related or False, 'blocking': True,
            'res_model': res_model or False, 'res_id': res_id or False,
        }

    @staticmethod
    def objects(project):
        """The objects the audit reads, in load order."""
        # A target in an app that is not installed is left out, as the run leaves it (the inventory says so).
        return project.object_ids.filtered(lambda o: o.enabled and o.model_installed)._sorted_for_load()

    @staticmethod
    def reads(obj, source):
        reads = getattr(source, 'audit_reads', None)  # file sources read everything
        return not reads or reads(obj._source_name())

    def run(self):
        """The whole audit at once (scripts, tests): every object, then the findings."""
        source = self.project._get_source()
        for obj in self.objects(self.project):
            if not self.reads(obj, source):
                continue
            self.begin_object(obj)
            rows = source.iter_rows(obj._source_name())
            while True:
                batch = list(itertools.islice(rows, BATCH_ROWS))
                self.audit_rows(obj, batch)
                if len(batch) < BATCH_ROWS:
                    break
            self.end_object(obj)
        return self.finish()

    def finish(self):
        """Findings that need every object read, then the issues, in one create."""
        self.add_unmatched_targets()
        for values in self.issues.values():
            if values['kind'] == 'unmatched_user' and not values['message']:
                values['message'] = self.env._(
                    "No Odoo user has the e-mail or login %(login)s (%(rows)s rows). Pick the user who takes "
                    "these records over, or accept to leave the field empty.",
                    login=values['source_id'], rows=self.owner_rows[values['source_id']])
        self.findings.add_issues()
        add_mapping_gap_issues(self)
        mapping_audit.add_missing_column_issues(self)
        issues = self.env['crm.migration.issue'].create(list(self.issues.values()))
        self.project.write({'audit_date': fields.Datetime.now()})
        return issues

    def _context(self, obj):
        """What the audit derives from the mapping of ``obj``, once per batch."""
        if obj.id not in self._contexts:
            env = self.env
            mapper = build_mapper(obj)
            # The object's hold-back key, else any e-mail it maps: two patients with
            # one address are worth a look even when nothing holds them back.
            dedup_field = obj.dedup_field if obj.dedup_field in env[obj.target_model]._fields else next(
                (spec.target for spec in mapper.specs if spec.transform == 'email'), None)
            names_and_births = 'x_date_of_birth' in {spec.target for spec in mapper.specs} \
                and obj.target_model == 'crm.lead'
            # Rows an Odoo record may already stand for (a person's, an earlier project's): by match keys.
            keys = matching.match_keys(obj)
            key_fields = {name for key in keys for name in key}
            self._contexts[obj.id] = (mapper, dedup_field, names_and_births, keys, key_fields)
        return self._contexts[obj.id]

    def begin_object(self, obj):
        self.current_object, self.current_ids, self.first_by_key, self.first_by_person = obj.id, set(), {}, {}

    def end_object(self, obj):
        self.ids[obj.name] = self.current_ids
        self.current_object, self.current_ids, self.first_by_key, self.first_by_person = None, set(), {}, {}

    def audit_rows(self, obj, rows):
        """Check one batch of rows of ``obj`` (the rows after those of the previous batch)."""
        env = self.env
        mapper, dedup_field, names_and_births, keys, key_fields = self._context(obj)
        ids, first_by_key, first_by_person = self.current_ids, self.first_by_key, self.first_by_person
        keyed = []
        for row in rows:
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
                # As text: the key must read the same after a step's checkpoint (JSON).
                person = (str(values['name']).casefold().strip(), str(values['x_date_of_birth']))
                if person in first_by_person:
                    self.add(obj, 'duplicate', source_id, env._(
                        "Same name and date of birth as source record %s: probably the same person.",
                        first_by_person[person]), related=first_by_person[person])
                else:
                    first_by_person[person] = source_id
        # Each row is looked up on its own: a batch at a time finds what one pass over the file found.
        if keyed and not obj.match_existing and obj.create_records:
            found = matching.find_existing(obj, keyed, keys)
            for source_id, (record, key) in found.items():
                self.add(obj, 'duplicate', source_id, matching.describe(obj, record, key),
                         res_model=obj.target_model, res_id=record.id)
            self.existing.setdefault(obj.name, {}).update(
                {source_id: record.id for source_id, (record, _key) in found.items()})

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
    """The whole audit in the current transaction; the project's button runs it in steps."""
    return Audit.begin(project).run()


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
