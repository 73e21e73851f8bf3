# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Load mapped rows of one source object into Odoo, one batch at a time.

For every source row exactly one outcome is recorded in
``crm.migration.record``: created, updated, unchanged, skipped or failed
with its reason.  A batch is written with one ``create()`` inside a
savepoint; when it fails it is split in halves until the bad rows are
isolated, so one broken row never takes its neighbours down with it.
"""
import base64
import hashlib
import json
import logging

import psycopg2

from odoo import fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, email_normalize

from ..connectors import converters
from ..connectors import mapper as mapping
from ..connectors.exceptions import ConnectorError
from . import activity_history, contradictions, diff, fast_defaults, lead_contacts, matching
from .constants import (
    ACTION_PREFIX,
    ACTIVITY_PREFIX,
    ALLOWED_ACTIONS,
    LIVE_OPERATIONS,
    OWNER_DOMAIN,
    like_exact,
    owner_domain,
)

_logger = logging.getLogger(__name__)

# What Odoo's own import and OCA importers use: no chatter, no followers, no
# tracking, no activity e-mails -- a migration replays history, it does not
# notify anybody.
IMPORT_CONTEXT = {
    'tracking_disable': True,
    'mail_create_nolog': True,
    'mail_create_nosubscribe': True,
    'mail_notrack': True,
    'mail_activity_quick_update': True,
    'mail_auto_subscribe_no_notify': True,
    # Documents are stored byte for byte: no resize of large images
    # (ir.attachment._postprocess_contents), so the read-back checksum holds.
    'image_no_postprocess': True,
}
# Fields written right after create instead of in it: creating a meeting
# with its lead makes crm post "meeting scheduled" on the lead, dated today,
# which is not history.
DEFERRED_ON_CREATE = {'calendar.event': ('opportunity_id',)}
# Records a salesperson works from: one the source leaves unassigned gets the
# project's default salesperson instead of the user running the load.
OWNED_MODELS = ('crm.lead', 'sale.order')
# Errors a bad row raises from the ORM; anything else is a bug or an outage
# and must stop the run rather than be written off as a row failure.
ROW_ERRORS = (ValueError, TypeError, UserError, ValidationError, AccessError, ConnectorError,
              psycopg2.IntegrityError, psycopg2.DataError)


def active_lines(obj):
    """The mapping lines that feed a value: enabled, with a column or a default."""
    return obj.field_ids.filtered(lambda line: line.enabled and (line._source_list() or line.default_value))


def build_mapper(obj, lines=None):
    project = obj.project_id
    return mapping.Mapper(
        [line._spec() for line in (lines if lines is not None else active_lines(obj))],
        day_first=project._day_first(),
        tz=project.source_tz,
        decimal_comma=project._decimal_comma(),
    )


class Entry:
    """One source row on its way through a batch."""

    __slots__ = ('row', 'line_nr', 'source_id', 'checksum', 'values', 'activity', 'actions', 'writes_back',
                 'parents', 'pending', 'contributions', 'problems', 'duplicate',
                 'link', 'activity_link', 'outcome', 'message', 'res_id', 'before', 'previous', 'written', 'kept_edits',
                 'resolution')

    def __init__(self, row, source_id):
        self.row = row
        self.line_nr = row.get('_line_nr') or 0
        self.source_id = source_id
        self.checksum = None
        self.values = {}
        self.activity = {}
        self.actions = ()
        self.writes_back = {}
        self.parents = {}
        self.pending = {}
        self.contributions = {}
        self.duplicate = False
        self.problems = []
        self.link = None
        self.activity_link = None
        self.outcome = None     # created / updated / unchanged / linked / skipped / failed
        self.message = None
        self.res_id = None
        self.before = None
        self.previous = None
        self.written = None     # the target's mapped fields as read after the write
        self.kept_edits = {}    # fields a user changed since the last write: left as they are
        self.resolution = None

    def fail(self, message):
        self.outcome = 'failed'
        self.message = message


class ObjectLoader:
    """Loads batches of one ``crm.migration.object`` for one run."""

    def __init__(self, run, obj, source, seen=None):
        project = run.project_id
        self.seen = seen if seen is not None else set()
        # Records land in the project's company, whoever runs the cron.
        self.env = run.with_company(project.company_id).env
        self.run = run
        self.obj = obj
        self.project = run.project_id
        self.source = source
        self.Model = self.env[obj.target_model].with_context(**IMPORT_CONTEXT)
        self.Record = self.env['crm.migration.record']
        lines = active_lines(obj)
        self.mapper = build_mapper(obj, lines)
        self.create_missing = {line.target_field for line in lines if line.create_missing}
        self.optional = {line.target_field for line in lines if line.optional}
        # The same row must be written again when the mapping or a reading
        # setting changes (a fixed source timezone, the date order...).
        settings = [project.source_tz, project.date_order, project.detected_date_order,
                    project.decimal_separator, project.fallback_product_id.id, project.trust_journal_id.id]
        self.signature = hashlib.sha1((obj._mapping_signature() + json.dumps(settings)).encode()).hexdigest()
        # Only the columns the mapping reads make a row changed: a column added to the export (or
        # gone) that nothing maps must not rewrite every record on the next pickup.
        self.read_columns = sorted(set(obj._key_columns()) | {c for line in lines for c in line._source_list()})
        # Lines whose values that do not fit their type are to load empty (the audit's decision):
        # such a row lands with the field empty instead of failing.
        self.accepted_mismatches = set(self.env['crm.migration.issue'].search([
            ('object_id', '=', obj.id), ('kind', '=', 'type_mismatch'), ('state', '=', 'resolved'),
            ('resolution', '=', 'empty')]).mapped('source_id')) - {line.target_field for line in lines if line.required}
        self.reference_fields = [name for name, field in self.Model._fields.items()
                                 if field.type == 'many2one_reference' and name in
                                 {line.target_field for line in lines}]
        self._name_cache = {}
        self._unassigned_logins = None
        self._owner_cache = {}  # partner id (and 'default') -> the user who owns its activities

    # ------------------------------------------------------------------
    def load(self, rows):
        """Load ``rows`` (dicts from the connector); return the counters of the batch."""
        if self.obj.deletes_object_id:
            return self._load_deletions(rows)
        read = len(rows)
        if self.obj.row_filter:
            # Rows for another object reading the same table: not this object's to record.
            rows = [row for row in rows if self.obj._row_matches(row)]
        entries = self._prepare(rows)
        pending = [e for e in entries if not e.outcome]
        self._map(pending)
        self._resolve([e for e in pending if not e.outcome])
        self._deduplicate([e for e in pending if not e.outcome])
        self._plan([e for e in pending if not e.outcome])
        writable = [e for e in pending if e.outcome in ('create', 'update')]
        counts = {'read': read, 'skipped': read - len(rows)}
        if writable:
            self._write(writable)
            if self.obj.create_partner and self.obj.target_model == 'crm.lead':
                lead_contacts.create_lead_partners(
                    self, [e for e in writable if e.outcome == 'created'], IMPORT_CONTEXT)
            self._write_back([e for e in writable if e.writes_back and e.outcome in ('created', 'updated')])
            diffs, counts['mismatch'] = diff.compare_entries(self, writable)
            if diffs:
                self.env['crm.migration.diff'].create(diffs)
        self._record(entries)
        counts['kept'] = sum(1 for entry in entries if entry.kept_edits)
        for entry in entries:
            key = {'created': 'created', 'updated': 'updated', 'unchanged': 'unchanged',
                   'linked': 'updated', 'skipped': 'skipped', 'failed': 'failed'}[entry.outcome]
            counts[key] = counts.get(key, 0) + 1
        return counts

    def _load_deletions(self, rows):
        """Rows deleted in the source: archive the records migrated from them.

        Archiving is the reversible way: the previous value is recorded, so rolling
        back the delta that saw the deletion brings the record back.  A target that
        cannot be archived is left as it is and the link says so.
        """
        base = self.obj.deletes_object_id
        source_ids = [self.obj._row_source_id(row) for row in rows]
        links = self.Record.search([('object_id', '=', base.id), ('source_id', 'in', source_ids),
                                    ('res_model', '=', base.target_model), ('operation', 'in', LIVE_OPERATIONS)])
        counts = {'read': len(rows), 'skipped': len(rows) - len(links)}
        Model = self.env[base.target_model].with_context(**IMPORT_CONTEXT, active_test=False)
        for link in links:
            record = Model.browse(link.res_id).exists()
            if not record or 'active' not in record._fields or link.operation != 'created':
                # Only what the migration created is archived: a record that existed
                # before it (matched, merged) is not the source's to remove.
                link.message = self.env._("Deleted in the source; left as it is (it cannot be archived, or it "
                                          "existed before the migration).")
                counts['skipped'] += 1
                continue
            if not record.active:
                counts['unchanged'] = counts.get('unchanged', 0) + 1
                continue
            record.active = False
            link.write({'run_id': self.run.id, 'previous_values': {'active': True}, 'checksum': False,
                        'synced_at': self.env.cr.now(), 'synced_uid': self.env.uid,
                        'write_seq': self._sequence(1)[0], 'message': self.env._("Archived: deleted in the source")})
            counts['updated'] = counts.get('updated', 0) + 1
        return counts

    # ------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------
    def _prepare(self, rows):
        key = self.obj.source_key
        entries, seen = [], {}
        for row in rows:
            source_id = self.obj._row_source_id(row) if key else ''
            entry = Entry(row, source_id or 'line %d' % (row.get('_line_nr') or 0))
            entries.append(entry)
            if not key:
                entry.fail(self.env._("The object has no source id column; set one before loading."))
            elif not source_id:
                entry.fail(self.env._("Line %(line)s has no value in the id column(s) %(column)s.",
                                      column=self.obj._key_labels(), line=entry.line_nr))
            elif source_id in seen:
                entry.fail(self.env._("Source id %(id)s appears twice: lines %(first)s and %(line)s.",
                                      id=source_id, first=seen[source_id], line=entry.line_nr))
                entry.duplicate = True
            else:
                seen[source_id] = entry.line_nr
                # Bookkeeping keys (_line_nr, an API page _cursor whose token
                # changes between runs) are not data: they must not make an
                # unchanged row look changed.
                payload = {k: row.get(k) for k in self.read_columns if not k.startswith('_')}
                entry.checksum = hashlib.sha1(
                    (json.dumps(payload, sort_keys=True, default=str) + self.signature).encode()).hexdigest()
        links = self.Record.search([
            ('object_id', '=', self.obj.id),
            ('source_id', 'in', [e.source_id for e in entries]),
        ])
        by_key = {(link.source_id, link.res_model): link for link in links}
        for entry in entries:
            entry.link = by_key.get((entry.source_id, self.obj.target_model))
            entry.activity_link = by_key.get((entry.source_id, 'mail.activity'))
            copy = entry.source_id in self.seen or (entry.link and entry.link.run_id == self.run)
            if (not entry.outcome and entry.link and copy
                    and entry.link.line_nr and entry.link.line_nr != entry.line_nr):
                entry.fail(self.env._("Source id %(id)s appears twice: lines %(first)s and %(line)s.",
                                      id=entry.source_id, first=entry.link.line_nr, line=entry.line_nr))
                entry.duplicate = True
        self.seen.update(e.source_id for e in entries if not e.duplicate)
        return entries

    def _map(self, entries):
        for entry in entries:
            values, problems = self.mapper.map_row(entry.row)
            entry.actions = tuple(
                k[len(ACTION_PREFIX) :] for k, v in values.items() if k.startswith(ACTION_PREFIX) and v
            )
            entry.writes_back = {k: v for k, v in values.items() if k.startswith('@') and v is not None}
            entry.values = {k: v for k, v in values.items() if not k.startswith((ACTIVITY_PREFIX, ACTION_PREFIX, '@'))}
            entry.activity = {k[len(ACTIVITY_PREFIX):]: v for k, v in values.items()
                              if k.startswith(ACTIVITY_PREFIX) and v is not None}
            entry.problems = [self._accepted_mismatch(p) for p in problems]
            for name in self.reference_fields:
                if entry.values.get(name) is None:
                    entry.problems.append(mapping.Problem(name, self.env._(
                        "%s: the row points to no migrated record.", self.Model._fields[name].string)))
            self._fail_on_problems(entry)

    def _accepted_mismatch(self, problem):
        if problem.value is None or not problem.blocking or problem.field not in self.accepted_mismatches:
            return problem
        return mapping.Problem(problem.field, self.env._(
            "%(problem)s; left empty, as decided on the audit (source value %(value)r)",
            problem=problem.message, value=problem.value), blocking=False)

    def _fail_on_problems(self, entry):
        blocking = [p.message for p in entry.problems if p.blocking]
        if blocking:
            entry.fail('; '.join(blocking))

    def _resolve(self, entries):
        """Replace the mapper's references by ids, for the whole batch at once."""
        refs = {}
        for entry in entries:
            for value in list(entry.values.values()) + list(entry.activity.values()) + list(entry.writes_back.values()):
                for ref in (value if isinstance(value, list) else [value]):
                    if isinstance(ref, mapping.REFS):
                        refs.setdefault(type(ref), set()).add(ref)
        resolved = {}
        resolved.update(self._resolve_lookups(refs.get(mapping.LookupRef, ())))
        for ref in refs.get(mapping.NameRef, ()):
            resolved[ref] = self._resolve_name(ref)
        resolved.update(self._resolve_users(refs.get(mapping.UserRef, ())))
        resolved.update(self._resolve_products(refs.get(mapping.ProductRef, ())))
        self._prefetch_lead_partners(entries, resolved)
        for entry in entries:
            # The records this row looks up, before the values become ids.
            entry.parents = {value.object: resolved[value] for value in entry.values.values()
                             if isinstance(value, mapping.LookupRef) and resolved.get(value)}
            entry.writes_back = {key: self._as_text(value, resolved) for key, value in entry.writes_back.items()}
            entry.values = self._apply_refs(entry, entry.values, self.Model, resolved)
            entry.activity = self._apply_refs(entry, entry.activity, self.env['mail.activity'], resolved)
            self._adapt(entry)
            self._fail_on_problems(entry)

    def _prefetch_lead_partners(self, entries, resolved):
        """The contacts of the leads this batch looks up as contacts (invoices' patients), made in one go.

        ``_lookup_value`` then finds each lead's contact in place instead of making it row by row.
        """
        wanted = {}
        for entry in entries:
            for model, values in ((self.Model, entry.values), (self.env['mail.activity'], entry.activity)):
                for name, value in values.items():
                    field = model._fields.get(name)
                    if not field or field.type not in ('many2one', 'many2many') or field.comodel_name != 'res.partner':
                        continue
                    for ref in (value if isinstance(value, list) else [value]):
                        link = resolved.get(ref) if isinstance(ref, mapping.LookupRef) else None
                        if link and link[0] == 'crm.lead':
                            wanted.setdefault(ref.object, {})[ref.source_id] = link[1]
        for object_name, leads in wanted.items():
            obj = self.project.object_ids.filtered(lambda o, n=object_name: o.name == n)
            # One recordset, so that reading the leads' contacts is one query, not one per lead.
            records = self.env['crm.lead'].browse(list(leads.values()))
            lead_contacts.ensure_lead_partners(self, obj, list(zip(leads, records, strict=True)), IMPORT_CONTEXT)

    def _apply_refs(self, entry, values, model, resolved):
        result = {}
        for name, value in values.items():
            field = model._fields.get(name)
            if isinstance(value, list):
                result[name] = [(6, 0, self._ref_ids(entry, name, field, value, resolved))]
                continue
            if isinstance(value, mapping.FileRef):
                try:
                    result[name] = base64.b64encode(self.source.download(value.ref))
                except ConnectorError as error:
                    entry.problems.append(mapping.Problem(name, str(error)))
                continue
            if isinstance(value, mapping.ProductRef):
                result[name] = resolved.get(value) or None
                continue
            if isinstance(value, mapping.REFS):
                target = resolved.get(value)
                if isinstance(value, mapping.LookupRef):
                    target = self._lookup_value(entry, field, value, target)
                    if target is None:
                        continue
                    if field.type == 'many2one_reference':
                        result[field.model_field] = target[0]
                        target = target[1]
                elif isinstance(target, int) and isinstance(value, mapping.UserRef) \
                        and field.comodel_name == 'res.partner':
                    target = self.env['res.users'].browse(target).partner_id.id
                elif isinstance(target, str) or target is None:
                    problem = target or self.env._("%(field)s: %(value)s not found",
                                                   field=field.string, value=value)
                    if isinstance(value, mapping.NameRef) and name in self.optional:
                        # An optional link (an insurer by name): leave it empty, say so.
                        entry.problems.append(mapping.Problem(name, problem, blocking=False, retry=True))
                        continue
                    # An unknown user leaves the field empty (the record still
                    # lands); anything else would write a wrong link.  Once a person
                    # decided to leave that owner's records unassigned, a rerun has
                    # nothing to retry.
                    owner = isinstance(value, mapping.UserRef)
                    entry.problems.append(mapping.Problem(
                        name, problem, blocking=not owner,
                        retry=not (owner and value.login.casefold() in self._owners_left_unassigned())))
                    if isinstance(value, mapping.UserRef):
                        # Keyed by the login: picking the user on it serves every row of that owner.
                        self._issue('unmatched_user', value.login.casefold(), problem, blocking=False)
                    continue
                value = target
            result[name] = value
        return result

    def _ref_ids(self, entry, name, field, refs, resolved):
        """The ids of a many2many's references; one not found is a problem of the row."""
        ids = []
        for ref in refs:
            if isinstance(ref, mapping.LookupRef):
                # As for one link: a patient lead gives its contact, a user its partner.
                target = self._lookup_value(entry, field, ref, resolved.get(ref))
                target = target[0][1] if isinstance(target, list) else target
                if isinstance(target, int):
                    ids.append(target)
                continue
            res_id = self._lookup_id(ref, resolved)
            if isinstance(res_id, str) or res_id is None:
                entry.problems.append(mapping.Problem(name, res_id or self.env._(
                    "%(field)s: %(name)r not found", field=field.string, name=ref.name)))
            else:
                ids.append(res_id)
        return ids

    @staticmethod
    def _lookup_id(ref, resolved):
        target = resolved.get(ref)
        if isinstance(ref, mapping.LookupRef):
            return target[1] if target else '%s %s was not migrated' % (ref.object, ref.source_id)
        return target

    def _lookup_value(self, entry, field, ref, link):
        """Turn the link of a looked-up source record into a value for ``field``."""
        label = field.string
        if link is None and ref.object == self.obj.name and field.type == 'many2one':
            # A row of this very object (a person's company, listed later in the
            # file): linked once the whole object has loaded.
            entry.pending[field.name] = ref.source_id
            return None
        if link is None and ref.object in self._match_only_objects():
            return self._unassigned(entry, field, ref)
        if link is None:
            message = self.env._(
                "%(field)s: %(object)s %(id)s was not migrated (missing from its file, or failed).",
                field=label, object=ref.object, id=ref.source_id)
            if field.name in self.optional:
                entry.problems.append(mapping.Problem(field.name, message, blocking=False, retry=True))
                return None
            entry.problems.append(mapping.Problem(field.name if field else '', message))
            self._issue('orphan', entry.source_id, message, related=ref.source_id)
            return None
        res_model, res_id = link
        if field.type == 'many2one_reference':
            return link
        if field.type == 'many2many' and field.comodel_name == res_model:
            return [(4, res_id)]
        if field.comodel_name == res_model:
            return res_id
        if field.comodel_name == 'res.partner' and res_model == 'crm.lead':
            return self._lead_partner(ref.object, ref.source_id, res_id)
        if field.comodel_name == 'product.product' and res_model == 'product.template':
            # Items migrated as products (templates); lines want the variant.
            return self.env['product.template'].browse(res_id).product_variant_id.id or None
        if field.comodel_name == 'res.partner' and res_model == 'res.users':
            # An author or attendee given as a user: Odoo wants the user's partner.
            return self.env['res.users'].browse(res_id).partner_id.id
        entry.problems.append(mapping.Problem(field.name, self.env._(
            "%(field)s links to %(model)s but %(object)s were loaded as %(loaded)s.",
            field=label, model=field.comodel_name, object=ref.object, loaded=res_model)))
        return None

    def _match_only_objects(self):
        """``{object name: source ids left unassigned on purpose}`` of the match-only objects (users)."""
        if getattr(self, '_match_only', None) is None:
            objects = self.project.object_ids.filtered(lambda o: not o.create_records)
            self._match_only = {obj.name: set() for obj in objects}
            for issue in self.env['crm.migration.issue'].search([
                    ('object_id', 'in', objects.ids), ('kind', '=', 'unmatched_user'), ('user_id', '=', False),
                    '|', ('state', '=', 'accepted'), ('resolution', '=', 'skip')]):
                self._match_only[issue.object_id.name].add(issue.source_id)
        return self._match_only

    def _unassigned(self, entry, field, ref):
        """A source user with no Odoo user: the field stays empty and the row lands.

        The audit raised one reconciliation issue per such user; until it is
        decided the row is retried, so a user picked later still reaches it.
        Left unassigned, it is not retried: a rerun of the same source stays quiet.
        """
        decided = ref.source_id in self._match_only_objects()[ref.object]
        entry.problems.append(mapping.Problem(field.name, self.env._(
            "%(field)s: %(object)s %(id)s has no Odoo record; left unassigned.",
            field=field.string, object=ref.object, id=ref.source_id), blocking=False, retry=not decided))
        # False, not None: an omitted owner would take Odoo's default (the user running the cron).
        return False if field.type == 'many2one' else None

    def _resolve_lookups(self, refs):
        by_object = {}
        for ref in refs:
            by_object.setdefault(ref.object, set()).add(ref.source_id)
        resolved = {}
        for object_name, source_ids in by_object.items():
            obj = self.project.object_ids.filtered(lambda o, n=object_name: o.name == n)
            links = self.Record.search_fetch([
                ('object_id', 'in', obj.ids),
                ('source_id', 'in', list(source_ids)),
                ('res_model', '=', obj.target_model),
                ('operation', 'in', LIVE_OPERATIONS),
            ], ['source_id', 'res_model', 'res_id'])
            for link in links:
                resolved[mapping.LookupRef(object_name, link.source_id)] = (link.res_model, link.res_id)
            if len(obj._key_columns()) > 1:
                self._resolve_partial_ids(obj, source_ids, resolved)
        return resolved

    def _resolve_partial_ids(self, obj, source_ids, resolved):
        """A reference naming only the first id column(s) of a composite-id object (an invoice
        number for an object identified by invoice number and line) resolves when exactly one
        record starts so; several are ambiguous and stay unresolved (the row fails, saying so)."""
        for source_id in source_ids:
            ref = mapping.LookupRef(obj.name, source_id)
            if ref in resolved:
                continue
            links = self.Record.search_fetch([
                ('object_id', '=', obj.id), ('source_id', '=like', like_exact(source_id) + '|%'),
                ('res_model', '=', obj.target_model), ('operation', 'in', LIVE_OPERATIONS),
            ], ['res_model', 'res_id'], limit=2)
            if len(links) == 1:
                resolved[ref] = (links.res_model, links.res_id)

    def _lead_partner(self, object_name, source_id, lead_id):
        """The contact of a migrated lead, created (and recorded) when it has none.

        A billing invoice needs a res.partner while the patient was loaded as a
        crm.lead: Odoo's own lead conversion builds the partner the same way.
        """
        lead = self.env['crm.lead'].browse(lead_id)
        if lead.partner_id:
            return lead.partner_id.id
        obj = self.project.object_ids.filtered(lambda o: o.name == object_name)
        kept = self.Record.search([('object_id', '=', obj.id), ('source_id', '=', source_id),
                                   ('res_model', '=', 'res.partner'), ('operation', 'in', LIVE_OPERATIONS)], limit=1)
        partner = self.env['res.partner'].with_context(active_test=False).browse(kept.res_id).exists() if kept \
            else None
        if partner:
            # The contact a rollback had to keep (archived): the same person again.
            partner.with_context(**IMPORT_CONTEXT).write({'active': True})
            lead.with_context(**IMPORT_CONTEXT).partner_id = partner
            return partner.id
        values = lead._prepare_customer_values(lead.contact_name or lead.name)
        partner = self.env['res.partner'].with_context(**IMPORT_CONTEXT).create(values)
        lead.with_context(**IMPORT_CONTEXT).partner_id = partner
        links = self.Record.search([('object_id', '=', obj.id), ('source_id', '=', source_id),
                                    ('res_model', 'in', ('res.partner', 'crm.lead'))])
        # The lead was just written by the migration, not by a user.
        links.filtered(lambda rec: rec.res_model == 'crm.lead').synced_at = self.env.cr.now()
        link = links.filtered(lambda rec: rec.res_model == 'res.partner')
        link_values = {'res_id': partner.id, 'operation': 'created', 'run_id': self.run.id,
                       'created_run_id': self.run.id, 'synced_at': self.env.cr.now(), 'synced_uid': self.env.uid,
                       'write_seq': self._sequence(1)[0], 'message': self.env._("Contact of the migrated lead")}
        if link:
            link.write(link_values)
        else:
            self.Record.create(dict(link_values, project_id=self.project.id, object_id=obj.id,
                                    source_id=source_id, res_model='res.partner'))
        return partner.id

    def _resolve_name(self, ref):
        """A record by XML id or exact name; creates it when the mapping allows."""
        key = (ref.relation, ref.name)
        if key in self._name_cache:
            return self._name_cache[key]
        Relation = self.env[ref.relation].with_context(active_test=False)
        result = None
        if '.' in ref.name and ' ' not in ref.name:
            record = self.env.ref(ref.name, raise_if_not_found=False)
            if record and record._name == ref.relation:
                result = record.id
        if result is None:
            name_field = Relation._rec_name or 'name'
            found = Relation.search([(name_field, '=ilike', like_exact(ref.name))], limit=1)
            if not found and ref.relation in ('res.country', 'res.country.state'):
                found = Relation.search([('code', '=ilike', like_exact(ref.name))], limit=1)
            if found:
                result = found.id
            elif ref.relation == 'account.journal' and self.project.trust_journal_id:
                # The audit asked which journal receives the entries whose bank account no journal matches.
                result = self.project.trust_journal_id.id
            elif self._may_create(ref.relation):
                result = Relation.with_context(**IMPORT_CONTEXT).create({name_field: ref.name}).id
                self._record_side_record(ref.relation, ref.name, result)
            else:
                result = self.env._("%(model)s: no record named %(name)r",
                                    model=Relation._description, name=ref.name)
        self._name_cache[key] = result
        return result

    def _record_side_record(self, model, name, res_id, source_id=None):
        """A record the mapping created on the way (a stage or tag by name, a draft
        invoice grouping entries): recorded like any row, so rollback removes it."""
        source_id = source_id or '%s:%s' % (model, name)
        values = {'res_id': res_id, 'operation': 'created', 'run_id': self.run.id, 'created_run_id': self.run.id,
                  'synced_at': self.env.cr.now(), 'synced_uid': self.env.uid, 'write_seq': self._sequence(1)[0],
                  'checksum': False, 'message': self.env._("Created because a row names it")}
        link = self.Record.search([('object_id', '=', self.obj.id), ('source_id', '=', source_id),
                                   ('res_model', '=', model)])
        if link:
            link.write(values)
        else:
            self.Record.create(dict(values, project_id=self.project.id, object_id=self.obj.id,
                                    source_id=source_id, res_model=model))

    def _may_create(self, relation):
        for name in self.create_missing:
            model = self.Model
            if name.startswith(ACTIVITY_PREFIX):
                model, name = self.env['mail.activity'], name[len(ACTIVITY_PREFIX):]
            field = model._fields.get(name)
            if field and getattr(field, 'comodel_name', None) == relation:
                return True
        return False

    def _owners_left_unassigned(self):
        """Logins of source owners whose records were decided to land unassigned (audit or run issue)."""
        if self._unassigned_logins is None:
            self._unassigned_logins = {issue.source_id.casefold() for issue in self.env['crm.migration.issue'].search([
                ('project_id', '=', self.project.id), ('kind', '=', 'unmatched_user'), ('state', '!=', 'open'),
                ('user_id', '=', False), ('resolution', 'in', ('skip', False))])}
        return self._unassigned_logins

    def _resolve_users(self, refs):
        resolved = {}
        Users = self.env['res.users']
        # The reconciliation queue: a person picked the user for an unknown owner.
        picked = {issue.source_id.casefold(): issue.user_id.id for issue in self.env['crm.migration.issue'].search([
            ('project_id', '=', self.project.id), ('kind', '=', 'unmatched_user'), ('state', '=', 'resolved'),
            ('user_id', '!=', False)])}
        for ref in refs:
            user = Users.search(owner_domain(ref.login), limit=1)
            resolved[ref] = user.id or picked.get(ref.login.casefold()) or \
                self.env._("no Odoo user has the login or e-mail %r", ref.login)
        return resolved

    def _resolve_products(self, refs):
        resolved = {}
        Product = self.env['product.product']
        for ref in refs:
            product = (Product.search([('default_code', '=ilike', like_exact(ref.name))], limit=1)
                       or Product.search([('name', '=ilike', like_exact(ref.name))], limit=1))
            resolved[ref] = product.id or False
        return resolved

    def _adapt(self, entry):
        """Target-specific rules the generic mapping cannot express."""
        # Values contradicting each other in Odoo (lost in a won stage, an end before the start...):
        # decided by the object's rule and said on the link, never a failed row.
        for decision in contradictions.decide(self.env, self.obj.target_model, entry.values):
            entry.problems.append(mapping.Problem(decision.field, decision.message, blocking=False))
        if self.obj.target_model == 'sale.order.line':
            values = entry.values
            if not values.get('product_id'):
                fallback = self.project.fallback_product_id
                values.pop('product_id', None)
                if fallback:
                    values['product_id'] = fallback.id
                else:
                    # Odoo refuses a priced line without a product: keep the
                    # line as a note that still carries quantity and price.
                    qty = values.pop('product_uom_qty', None)
                    price = values.pop('price_unit', None)
                    detail = ' (%s × %s)' % (mapping.value_to_text(qty or 1), mapping.value_to_text(price or 0))
                    values['name'] = (values.get('name') or '') + detail
                    values['display_type'] = 'line_note'
        if self.obj.target_model == 'ir.attachment' and entry.values.get('datas') is not None:
            entry.values.pop('mimetype', None)
        if self.obj.target_model == 'account.move.line' and not entry.values.get('move_id'):
            self._group_into_draft_invoice(entry)

    def _group_into_draft_invoice(self, entry):
        """A billable entry not billed yet (a Clio time entry without bill) joins the
        draft invoice of its lead (the matter), one per lead, created once and recorded."""
        lead_id = next((value for name, value in entry.values.items() if isinstance(value, int)
                        and getattr(self.Model._fields.get(name), 'comodel_name', None) == 'crm.lead'), None)
        if not lead_id:
            entry.problems.append(mapping.Problem('move_id', self.env._(
                "The line has no invoice and no matter to group it under.")))
            return
        source_id = 'unbilled:%d' % lead_id
        link = self.Record.search([('object_id', '=', self.obj.id), ('source_id', '=', source_id),
                                   ('res_model', '=', 'account.move'), ('operation', 'in', LIVE_OPERATIONS)],
                                  limit=1)
        move = self.env['account.move'].browse(link.res_id).exists() if link else None
        if not move:
            lead = self.env['crm.lead'].browse(lead_id)
            if not lead.partner_id:
                entry.problems.append(mapping.Problem('move_id', self.env._(
                    "Not billed yet, and its matter %s has no client to invoice.", lead.name)))
                return
            move = self.env['account.move'].with_context(**IMPORT_CONTEXT).create({
                'move_type': 'out_invoice', 'partner_id': lead.partner_id.id,
                'invoice_origin': lead.name, 'ref': self.env._("Unbilled entries of %s", lead.name)})
            self._record_side_record('account.move', source_id.split(':', 1)[1], move.id, source_id=source_id)
        entry.values['move_id'] = move.id

    def _deduplicate(self, entries):
        """Apply the decisions taken on duplicate issues (from the audit or an earlier run),
        then hold back rows whose duplicate key matches another record (first one wins)."""
        candidates = [e for e in entries if not (e.link and e.link.operation in LIVE_OPERATIONS)]
        decided = self._apply_duplicate_decisions(candidates)
        if not self.obj.match_existing and self.obj.create_records:
            self._hold_existing([e for e in candidates if e not in decided])
        self._hold_duplicate_keys([e for e in candidates if e not in decided and not e.outcome])

    def _apply_duplicate_decisions(self, candidates):
        """The rows whose duplicate issue was decided (skip, merge, create), with that decision applied."""
        issues = self.env['crm.migration.issue'].search([
            ('object_id', '=', self.obj.id), ('kind', '=', 'duplicate'), ('state', '!=', 'open'),
            ('source_id', 'in', [e.source_id for e in candidates]),
        ])
        issue_by_source = {issue.source_id: issue for issue in issues}
        decided = set()
        for entry in candidates:
            issue = issue_by_source.get(entry.source_id)
            if not issue:
                continue
            decided.add(entry)
            entry.resolution = issue.resolution or 'create'
            if issue.resolution == 'skip':
                entry.outcome, entry.message = 'skipped', self.env._("Skipped: duplicate resolved as 'do not migrate'.")
            elif issue.resolution == 'merge' and self._merge_target(issue):
                entry.outcome, entry.res_id = 'linked', self._merge_target(issue)
                entry.message = self.env._("Linked to the existing record (duplicate resolved as merge).")
        return decided

    def _hold_duplicate_keys(self, candidates):
        """Hold back rows whose duplicate key another record has (in Odoo, or earlier in the batch)."""
        field_name = self.obj.dedup_field
        if not field_name or field_name not in self.Model._fields:
            return
        keys = {e: _dedup_key(e.values.get(field_name)) for e in candidates}
        wanted = {k for k in keys.values() if k}
        if not wanted:
            return
        Model = self.Model.with_context(active_test=False)
        company_domain = ([('company_id', 'in', [self.env.company.id, False])]
                          if 'company_id' in Model._fields else [])
        normalized = field_name in ('email', 'email_from') and 'email_normalized' in Model._fields
        existing = {}
        if normalized:
            # Compare addresses as Odoo does: case and display names aside.
            for record in Model.search_fetch([('email_normalized', 'in', list(wanted))] + company_domain,
                                             ['email_normalized']):
                existing.setdefault(record.email_normalized, record.id)
        else:
            for record in Model.search_fetch([(field_name, 'in', list({e.values.get(field_name) for e in candidates
                                                                        if keys[e]} | wanted))] + company_domain,
                                             [field_name]):
                existing.setdefault(_dedup_key(record[field_name]), record.id)
        ours = {}
        if existing:
            for link in self.Record.search_fetch([
                    ('res_model', '=', self.obj.target_model), ('res_id', 'in', list(existing.values())),
                    ('object_id', '=', self.obj.id), ('operation', 'in', LIVE_OPERATIONS)], ['res_id', 'source_id']):
                ours[link.res_id] = link.source_id
        first_in_batch = {}
        for entry in candidates:
            key = keys[entry]
            if not key:
                continue
            if key in existing:
                res_id = existing[key]
                other = ours.get(res_id)
                if other is None and self.obj.match_existing:
                    entry.res_id = res_id
                    entry.resolution = 'match'
                    continue
                related = other or ''
            elif key in first_in_batch:
                res_id, related = None, first_in_batch[key]
            else:
                first_in_batch[key] = entry.source_id
                continue
            message = self.env._(
                "%(field)s %(value)s is also on %(other)s: held back so that no duplicate is created "
                "or merged silently. Resolve the issue, then rerun.",
                field=self.Model._fields[field_name].string, value=entry.values.get(field_name),
                other=(self.env._('source record %s', related) if related
                       else self.env._('an existing %s', self.Model._description)))
            entry.outcome, entry.message = 'skipped', message
            self._issue('duplicate', entry.source_id, message, related=related,
                        res_model=self.obj.target_model, res_id=res_id)

    def _hold_existing(self, entries):
        """Hold back rows an Odoo record not migrated by this project already stands for, by the
        object's other match keys (the duplicate key is compared below): a second project on the
        same data, or a re-created one, never creates them again unasked."""
        keys = [key for key in matching.match_keys(self.obj) if key != (self.obj.dedup_field,)]
        found = matching.find_existing(self.obj, [(e.source_id, e.values) for e in entries], keys) if keys else {}
        for entry in entries:
            if entry.source_id not in found:
                continue
            record, key = found[entry.source_id]
            message = matching.describe(self.obj, record, key)
            entry.outcome = 'skipped'
            entry.message = self.env._("Held back: %s Resolve the issue, then rerun.", message)
            self._issue('duplicate', entry.source_id, message, res_model=self.obj.target_model, res_id=record.id)

    def _merge_target(self, issue):
        if issue.res_id:
            return issue.res_id
        link = self.Record.search([('object_id', '=', self.obj.id), ('source_id', '=', issue.related_source_id),
                                   ('res_model', '=', self.obj.target_model),
                                   ('operation', 'in', LIVE_OPERATIONS)], limit=1)
        return link.res_id

    def _plan(self, entries):
        linked_ids = [e.link.res_id for e in entries if e.link and e.link.operation in LIVE_OPERATIONS]
        existing = set(self.Model.with_context(active_test=False).browse(linked_ids).exists().ids)
        for entry in entries:
            link = entry.link
            if link and link.operation in LIVE_OPERATIONS and link.res_id in existing:
                entry.res_id = link.res_id
                # A linked row stands for a record it does not own (a merged duplicate, a
                # picked user): it is never written.
                if link.checksum == entry.checksum or link.operation == 'linked':
                    entry.outcome = 'unchanged'
                else:
                    entry.outcome = 'update'
                    entry.values = {k: (False if v is None else v) for k, v in entry.values.items()}
            elif entry.resolution == 'match':
                entry.outcome = 'update'
                entry.values = {k: v for k, v in entry.values.items() if v is not None}
            elif not self.obj.create_records:
                self._hold_unmatched(entry)
            else:
                entry.outcome = 'create'
                entry.values = {k: v for k, v in entry.values.items() if v is not None}
            self._default_owner(entry)

    def _default_owner(self, entry):
        """A lead or order the source leaves unassigned goes to the project's default salesperson.

        Left to the ORM, ``user_id`` defaults to whoever runs the load -- OdooBot under
        the cron -- and nobody finds the record in *My Pipeline*.  An update only
        replaces an owner the source itself empties, never one a user picked since.
        """
        if self.obj.target_model not in OWNED_MODELS or 'user_id' not in self.Model._fields:
            return
        if entry.outcome == 'create' and not entry.values.get('user_id'):
            entry.values['user_id'] = self.project._default_owner().id or False
        elif entry.outcome == 'update' and 'user_id' in entry.values and not entry.values['user_id']:
            entry.values['user_id'] = self.project._default_owner().id or False

    def _hold_unmatched(self, entry):
        """Match-only objects (users): no record is created, a person links the row."""
        picked = self.env['crm.migration.issue'].search([
            ('object_id', '=', self.obj.id), ('kind', '=', 'unmatched_user'), ('source_id', '=', entry.source_id),
            ('state', '=', 'resolved'), ('user_id', '!=', False)], limit=1)
        if picked and self.obj.target_model == 'res.users':
            entry.outcome, entry.res_id = 'linked', picked.user_id.id
            entry.message = self.env._("Linked to %s, picked on the issue.", picked.user_id.name)
            return
        if self._create_user_decided(entry):
            return
        key = entry.values.get(self.obj.dedup_field) or entry.source_id
        kind = 'unmatched_user' if self.obj.target_model == 'res.users' else 'orphan'
        message = self.env._(
            "No %(model)s has %(field)s %(value)s: this object only links to existing records. Create it in "
            "Odoo or pick one on the issue, then rerun.", model=self.Model._description,
            field=self.obj.dedup_field or 'id', value=key)
        entry.outcome, entry.message = 'skipped', message
        self._issue(kind, entry.source_id, message)

    def _create_user_decided(self, entry):
        """*Create user* on the audit's issue: this one source user becomes an Odoo user."""
        if self.obj.target_model != 'res.users' or not self.env['crm.migration.issue'].search_count([
                ('object_id', '=', self.obj.id), ('kind', '=', 'unmatched_user'), ('source_id', '=', entry.source_id),
                ('state', '=', 'resolved'), ('resolution', '=', 'create')], limit=1):
            return False
        values = {k: v for k, v in entry.values.items() if v is not None}
        values.setdefault('login', values.get('email') or 'migrated-user-%s' % entry.source_id)
        values.setdefault('name', source_person_name(entry.row) or values['login'])
        entry.outcome, entry.values = 'create', values
        return True

    # ------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------
    def _write(self, entries):
        try:
            with self.env.cr.savepoint():
                self._write_group(entries)
            return
        except ROW_ERRORS as error:
            for entry in entries:
                # What happened inside the rolled-back savepoint is void.
                if entry.outcome == 'created':
                    entry.outcome, entry.res_id = 'create', None
                elif entry.outcome == 'updated':
                    entry.outcome = 'update'
                entry.activity.pop('__id', None)
            if len(entries) == 1:
                entry = entries[0]
                entry.fail(_error_message(error))
                entry.res_id = entry.link.res_id if entry.link else None
                return
            _logger.debug("crm_migration: a batch of %d rows failed; splitting it", len(entries))
        middle = len(entries) // 2
        self._write(entries[:middle])
        self._write(entries[middle:])

    def _write_group(self, entries):
        creates = [e for e in entries if e.outcome in ('create', 'created')]
        if creates:
            deferred = DEFERRED_ON_CREATE.get(self.obj.target_model, ()) + ('create_date',)
            vals_list = [{k: v for k, v in e.values.items() if k not in deferred} for e in creates]
            if 'iap_enrich_done' in self.Model._fields:
                # Migrated patients and clients are not new prospects: Odoo's lead enrichment
                # would otherwise send their e-mail addresses to its outside service.
                for vals in vals_list:
                    vals.setdefault('iap_enrich_done', True)
            records = self.Model.create(fast_defaults.prefill(self.Model, vals_list))
            for entry, record in zip(creates, records, strict=True):
                entry.outcome, entry.res_id = 'created', record.id
                later = {k: v for k, v in entry.values.items() if k in deferred}
                created_on = later.pop('create_date', None)
                if later:
                    record.write(later)
                if created_on:
                    # The source's creation date (a document uploaded in 2021): the ORM
                    # stamps create_date itself, so it is set after the fact.
                    self.env.cr.execute(SQL("UPDATE %s SET create_date = %s WHERE id = %s",
                                            SQL.identifier(self.Model._table), created_on, record.id))
                    record.invalidate_recordset(['create_date'])
            # Read through the created recordset: one prefetch for the batch, not a query per row.
            for entry, record in zip(creates, records, strict=True):
                entry.written = _snapshot(record, entry.values)
        for entry in entries:
            if entry.outcome not in ('update', 'updated'):
                continue
            entry.values.pop('create_date', None)  # set once, when the record was created
            record = self.Model.browse(entry.res_id)
            entry.previous = _snapshot(record, entry.values)
            last = (entry.link.written_values or {}) if entry.link and entry.link.operation in LIVE_OPERATIONS \
                else {}
            # A field whose value is no longer what the migration wrote was changed by a person:
            # the source's new value (or its empty cell) does not overwrite it.
            # An empty cell is never written on create, so a field missing from ``last`` held
            # nothing of ours: a value there now was typed, and an empty source keeps it.
            entry.kept_edits = {name: value for name, value in entry.previous.items()
                                if (value != last[name] if name in last
                                    else bool(last) and bool(value) and not entry.values.get(name))}
            for name in entry.kept_edits:
                entry.values.pop(name, None)
                entry.previous.pop(name)
            if entry.resolution == 'match' or (entry.link and entry.link.operation == 'updated'):
                # The state before the migration ever touched it: kept from the first write.
                # Fields first written now (or only by a write-back so far) add their current value.
                kept = (
                    (entry.link.before_values or {}) if entry.link and entry.link.operation in LIVE_OPERATIONS else {}
                )
                entry.before = dict(entry.previous, **kept)
            record.write(entry.values)
            entry.written = dict(last, **_snapshot(record, entry.values))
            entry.outcome = 'updated'
            if entry.kept_edits:
                self._tell_kept_edits(entry, record)
        self._write_activities([e for e in entries if e.activity])
        self.Model.flush_model()

    def _tell_kept_edits(self, entry, record):
        labels = ', '.join(record._fields[name].get_description(self.env)['string'] for name in entry.kept_edits)
        note = self.env._("Kept as changed in Odoo since the migration wrote it (the source's value was not "
                          "written): %s", labels)
        entry.message = '; '.join(filter(None, [entry.message, note]))
        if hasattr(record, 'message_post'):
            record.message_post(body=note, message_type='notification', subtype_xmlid='mail.mt_note')

    def _as_text(self, value, resolved):
        """A value written on another record, as text: a looked-up record or a user by its name."""
        target = resolved.get(value) if isinstance(value, mapping.REFS) else None
        if isinstance(value, mapping.LookupRef):
            return self.env[target[0]].browse(target[1]).display_name if target else None
        if isinstance(value, mapping.UserRef):
            return self.env['res.users'].browse(target).name if isinstance(target, int) else value.login
        if isinstance(value, mapping.NameRef):
            return value.name
        return value

    def _write_back(self, entries):
        """Write values on the records the rows look up (a patient's practitioners from its appointments).

        "Replace" keeps the last value, "add" keeps each distinct value once on its own
        line: both give the same result when a run is repeated.
        """
        for (model, res_id), changes in self._collect_write_backs(entries).items():
            record = self.env[model].with_context(**IMPORT_CONTEXT, active_test=False).browse(res_id).exists()
            if not record:
                continue
            values = _write_back_values(record, changes)
            if values:
                self._write_back_record(entries, record, values)

    def _collect_write_backs(self, entries):
        """``{(model, res_id): {field: (mode, [values])}}`` of the rows' write-backs."""
        by_record = {}
        for entry in entries:
            for key, value in entry.writes_back.items():
                object_name, mode, field = key[1:].split(':', 2)
                parent = entry.parents.get(object_name)
                if parent is None:
                    # Not a retry: when the row's own lookup is still missing, that
                    # line already asks for one; otherwise the next run finds no target
                    # either and would only rewrite the row.
                    entry.problems.append(mapping.Problem(field, self.env._(
                        "%(field)s: the row points to no %(object)s record to write it on.",
                        field=field, object=object_name), blocking=False))
                    continue
                if mode == 'record':
                    # This row's own record, linked from the one it looks up (a client's pricelist).
                    if value and entry.res_id:
                        by_record.setdefault(parent, {}).setdefault(field, (mode, []))[1].append(entry.res_id)
                    continue
                if mode == 'sum':
                    # Totals are recomputed from every row's share once the object has loaded.
                    entry.contributions['%s,%s,%s' % (parent[0], parent[1], field)] = float(value or 0.0)
                    continue
                by_record.setdefault(parent, {}).setdefault(field, (mode, []))[1].append(value)
        return by_record

    def _write_back_record(self, entries, record, values):
        """Write ``values`` on a looked-up record, recorded on its links as the migration's write."""
        model, res_id = record._name, record.id
        previous = _snapshot(record, values)
        try:
            with self.env.cr.savepoint():
                record.write(values)
        except ROW_ERRORS as error:
            _logger.info("crm_migration: writing %s on %s %s refused", list(values), model, res_id)
            for entry in entries:
                if entry.parents.get(next(iter(entry.parents), None)) == (model, res_id):
                    entry.problems.append(mapping.Problem('', self.env._(
                        "Could not write %(fields)s on %(record)s: %(error)s", fields=', '.join(values),
                        record=record.display_name, error=_error_message(error)), blocking=False))
            return
        # The migration wrote it: not an edit a rollback should keep; and this run
        # changed it, so rolling the run back gives the values back.
        links = record_links(self.project, model, res_id)
        for link in links:
            kept = dict(link.previous_values or {}) if link.run_id == self.run else {}
            link.write({'synced_at': self.env.cr.now(), 'synced_uid': self.env.uid, 'run_id': self.run.id,
                        'write_seq': self._sequence(1)[0], 'previous_values': dict(previous, **kept)})
        remember_originals(links, previous)

    def _write_activities(self, entries):
        """One activity per row: open when it lies ahead, marked done (as a person would) when past.

        An appointment that already took place is history, not an overdue to-do:
        it is created and marked done as Odoo's own ``_action_done`` marks it (services/activity_history), so the
        record shows the usual "... done" message with its activity type, then the
        message and the done date are set back to when it happened.
        """
        Activity = self.env['mail.activity'].with_context(**IMPORT_CONTEXT)
        model_id = self.env['ir.model']._get_id(self.obj.target_model)
        now = fields.Datetime.now()
        to_create, done = [], []
        for entry in entries:
            values = dict(entry.activity)
            if not values.get('date_deadline'):
                continue  # no date in the source: nothing was scheduled
            moment = self._activity_moment(entry, values['date_deadline'])
            link = entry.activity_link
            activity = Activity.browse(link.res_id).exists() if link and link.operation in LIVE_OPERATIONS else None
            if activity:
                activity.write(values)
                if activity.active and moment < now:
                    done.append((activity, moment))
                continue
            if not values.get('user_id'):
                values['user_id'] = self._activity_owner(entry)
            to_create.append((entry, moment, dict(values, res_model_id=model_id, res_id=entry.res_id)))
        if to_create:
            activities = Activity.create([values for _entry, _moment, values in to_create])
            for (entry, moment, _values), activity in zip(to_create, activities, strict=True):
                entry.activity['__id'] = activity.id
                if moment < now:
                    done.append((activity, moment))
        activity_history.mark_done(self.env, done)

    def _activity_moment(self, entry, deadline):
        """When the activity takes place, in UTC: the source's date-time when it has one."""
        spec = next((s for s in self.mapper.specs if s.target == ACTIVITY_PREFIX + 'date_deadline'), None)
        raw = self.mapper._raw(spec, entry.row) if spec else None
        try:
            return converters.parse_datetime(raw, self.mapper.day_first, self.mapper.tz)
        except (TypeError, ValueError):
            # A bare date: the start of that day where the source is.
            return converters.parse_datetime(deadline, self.mapper.day_first, self.mapper.tz)

    def _activity_owner(self, entry):
        """The user behind the person the row looks up (an appointment's practitioner), else the default owner."""
        # A practitioner has hundreds of appointments: look each person's user up once per batch.
        cache = self._owner_cache
        for res_model, res_id in entry.parents.values():
            if res_model == 'res.users':
                return res_id
            if res_model == 'res.partner':
                if res_id not in cache:
                    cache[res_id] = self._partner_user(res_id)
                if cache[res_id]:
                    return cache[res_id]
        if 'default' not in cache:
            owner = self.project._default_owner() or self.run.create_uid
            cache['default'] = owner.id if owner and not owner._is_superuser() else False
        return cache['default']

    def _partner_user(self, partner_id):
        Users = self.env['res.users']
        partner = self.env['res.partner'].browse(partner_id)
        user = Users.search([('partner_id', '=', partner.id)] + OWNER_DOMAIN, limit=1)
        if not user and partner.email:
            user = Users.search(owner_domain(partner.email), limit=1)
        return user.id

    # ------------------------------------------------------------------
    # Recording
    # ------------------------------------------------------------------
    def _record(self, entries):
        # The transaction's clock, the one Odoo stamps write_date with: a
        # record changed later by somebody else has a later write_date.
        now = self.env.cr.now()
        to_create = []
        model = self.obj.target_model
        sequence = iter(self._sequence(2 * len(entries)))
        for entry in entries:
            if entry.outcome == 'unchanged':
                continue  # nothing written: the record still belongs to the run that wrote it
            if entry.duplicate:
                # A second copy of a source id: its own finding, never written over the first.
                self._issue('duplicate', '%s (line %s)' % (entry.source_id, entry.line_nr), entry.message,
                            related=entry.source_id)
                continue
            operation = entry.outcome
            activity_id = entry.activity.get('__id') if entry.activity else None
            warnings = [p.message for p in entry.problems if not p.blocking]
            message = '; '.join(filter(None, [entry.message] + warnings)) or False
            link = entry.link
            values = {'line_nr': entry.line_nr, 'message': message}
            if not (link and link.operation in LIVE_OPERATIONS) or entry.outcome in ('created', 'updated', 'linked'):
                values['run_id'] = self.run.id
            if entry.outcome in ('created', 'updated', 'linked'):
                # A link not found yet (an owner, an optional record) may resolve next run.
                retry = any(p.retry for p in entry.problems)
                values.update(res_id=entry.res_id, checksum=False if retry else entry.checksum, synced_at=now,
                              synced_uid=self.env.uid, write_seq=next(sequence),
                              previous_values=entry.previous,
                              written_values=entry.written,
                              pending_actions=','.join(entry.actions) or False,
                              pending_links=entry.pending or False,
                              contributions=entry.contributions or False)
                if entry.outcome != 'updated' or not (link and link.created_run_id):
                    values['created_run_id'] = self.run.id
                if entry.outcome == 'updated' and link and link.operation == 'created':
                    operation = 'created'  # still ours: rollback deletes it
                if entry.before is not None:
                    # Originals a write-back of this batch already kept on the link stay.
                    kept = link.before_values if link and link.operation in LIVE_OPERATIONS else None
                    values['before_values'] = dict(entry.before, **(kept or {}))
            if operation in ('failed', 'skipped') and link and link.operation in LIVE_OPERATIONS:
                operation = link.operation  # keep the record it already owns
                values['checksum'] = False  # so that the next run retries the row
            values['operation'] = operation
            if link:
                link.write(values)
            else:
                to_create.append(dict(values, project_id=self.project.id, object_id=self.obj.id,
                                      source_id=entry.source_id, res_model=model))
            if activity_id:
                activity_values = {'run_id': self.run.id, 'created_run_id': self.run.id, 'res_id': activity_id,
                                   'operation': 'created', 'line_nr': entry.line_nr, 'synced_at': now,
                                   'synced_uid': self.env.uid, 'write_seq': next(sequence), 'message': False}
                if entry.activity_link:
                    entry.activity_link.write(activity_values)
                else:
                    to_create.append(dict(activity_values, project_id=self.project.id, object_id=self.obj.id,
                                          source_id=entry.source_id, res_model='mail.activity'))
        if to_create:
            self.Record.create(to_create)

    def _sequence(self, count):
        """Increasing numbers stamping each write: rollback undoes the newest write first,
        even when a link row created long ago is reused."""
        self.env.cr.execute("SELECT nextval('crm_migration_record_write_seq') FROM generate_series(1, %s)",
                            [max(count, 1)])
        return [row[0] for row in self.env.cr.fetchall()]

    def _issue(self, kind, source_id, message, related=None, blocking=True, res_model=None, res_id=None):
        Issue = self.env['crm.migration.issue']
        existing = Issue.search([('object_id', '=', self.obj.id), ('kind', '=', kind),
                                 ('source_id', '=', source_id)], limit=1)
        values = {'message': message, 'run_id': self.run.id, 'related_source_id': related or False,
                  'res_model': res_model or False, 'res_id': res_id or False, 'blocking': blocking}
        if existing:
            if existing.state == 'open':
                existing.write(values)
            return existing
        return Issue.create(dict(values, project_id=self.project.id, object_id=self.obj.id,
                                 kind=kind, source_id=source_id))


def source_person_name(row):
    """The display name of a source person: ``name``, else first and last name as the vendor spells them."""
    name = mapping.value_to_text(row.get('name')).strip()
    if name:
        return name
    for first, last in (('first_name', 'last_name'), ('firstname', 'lastname')):
        parts = [mapping.value_to_text(row.get(key)).strip() for key in (first, last)]
        if any(parts):
            return ' '.join(part for part in parts if part)
    return ''


def _dedup_key(value):
    if not value or not isinstance(value, str):
        return None
    return email_normalize(value) or value.strip().casefold()


def _plain(value):
    """A field value comparable with what a row writes (a record by its id)."""
    return (value.id or False) if isinstance(value, models.BaseModel) else value


def _snapshot(record, values):
    """JSON-able values of ``record`` for the fields about to be written."""
    snapshot = {}
    for name in values:
        field = record._fields.get(name)
        if not field or field.type == 'binary':
            continue
        value = record[name]
        if field.type == 'many2one':
            value = value.id or False
        elif field.type in ('many2many', 'one2many'):
            value = value.ids
        elif field.type in ('date', 'datetime'):
            value = fields.Datetime.to_string(value) if field.type == 'datetime' else fields.Date.to_string(value)
        snapshot[name] = value
    return snapshot


def _error_message(error):
    text = getattr(error, 'args', [None])[0] if getattr(error, 'args', None) else str(error)
    return str(text or error.__class__.__name__).strip()


def run_pending_actions(run, limit):
    """Replay document states once everything is loaded (post an invoice after its lines landed).

    Each record in its own savepoint: a method that refuses (no account on a
    line, a closed period) leaves the record as it is and says why on its link.
    Returns how many links were processed.
    """
    env = run.env
    links = env['crm.migration.record'].search([
        ('project_id', '=', run.project_id.id), ('run_id', '=', run.id), ('pending_actions', '!=', False),
        ('operation', 'in', LIVE_OPERATIONS)], limit=limit, order='id')
    for link in links:
        record = env[link.res_model].with_context(**IMPORT_CONTEXT).browse(link.res_id).exists()
        messages = []
        for method in link.pending_actions.split(','):
            if not record or method not in ALLOWED_ACTIONS.get(link.res_model, ()) \
                    or getattr(record, 'state', 'draft') not in ('draft', 'sent'):
                continue
            try:
                with env.cr.savepoint():
                    getattr(record, method)()
            except ROW_ERRORS as error:
                messages.append(env._("Written, but %(method)s refused: %(error)s",
                                      method=method, error=_error_message(error)))
        values = {'pending_actions': False, 'synced_at': env.cr.now(), 'synced_uid': env.uid}
        if messages:
            values['message'] = '; '.join(filter(None, [link.message] + messages))
        link.write(values)
    return len(links)


def resolve_pending_links(run, obj):
    """Set the links to rows of the same object, now that all of them are loaded.

    Returns how many links were set; a row pointing to a record missing from
    the source gets an orphan issue instead.
    """
    env = run.env
    Record = env['crm.migration.record']
    links = Record.search([('object_id', '=', obj.id), ('run_id', '=', run.id), ('pending_links', '!=', False),
                           ('operation', 'in', LIVE_OPERATIONS)])
    wanted = {source_id for link in links for source_id in link.pending_links.values()}
    targets = {target.source_id: target.res_id for target in Record.search([
        ('object_id', '=', obj.id), ('source_id', 'in', list(wanted)), ('res_model', '=', obj.target_model),
        ('operation', 'in', LIVE_OPERATIONS)])}
    done = 0
    Model = env[obj.target_model].with_context(**IMPORT_CONTEXT, active_test=False)
    for link in links:
        values, missing, update_checksum = {}, [], False
        for field, source_id in link.pending_links.items():
            if source_id in targets:
                values[field] = targets[source_id]
            else:
                missing.append('%s %s' % (obj.name, source_id))
                update_checksum = True
        try:
            with env.cr.savepoint():
                record = Model.browse(link.res_id)
                remember_originals(link, _snapshot(record, values))
                record.write(values)
            done += len(values)
        except ROW_ERRORS as error:
            missing.append(_error_message(error))
        update = {'pending_links': False, 'synced_at': env.cr.now(), 'synced_uid': env.uid}
        if missing:
            update['message'] = '; '.join(filter(None, [link.message, env._(
                "Not linked: %s was not migrated.", ', '.join(missing))]))
        if update_checksum:
            update['checksum'] = False  # the next run tries the link again
        link.write(update)
    return done


def apply_totals(run, obj):
    """Write the totals of "Total" write-backs, from the share every live row of ``obj`` recorded.

    Recomputed from all rows, not added per batch: a rerun or a delta gives the
    same total as a single run.
    """
    env = run.env
    totals = {}
    for link in env['crm.migration.record'].search([('object_id', '=', obj.id), ('contributions', '!=', False),
                                                    ('operation', 'in', LIVE_OPERATIONS)]):
        for key, amount in link.contributions.items():
            totals[key] = totals.get(key, 0.0) + amount
    by_record = {}
    for key, amount in totals.items():
        model, res_id, field = key.split(',')
        by_record.setdefault((model, int(res_id)), {})[field] = amount
    for (model, res_id), values in by_record.items():
        record = env[model].with_context(**IMPORT_CONTEXT, active_test=False).browse(res_id).exists()
        if record and any(record[field] != value for field, value in values.items()):
            remember_originals(record_links(run.project_id, model, res_id), _snapshot(record, values))
            record.write(values)
    return len(by_record)


def record_links(project, model, res_id):
    """The live links of ``project`` to one Odoo record (several objects may share it)."""
    return project.env['crm.migration.record'].search([
        ('project_id', '=', project.id), ('res_model', '=', model), ('res_id', '=', res_id),
        ('operation', 'in', LIVE_OPERATIONS)])


def _write_back_values(record, changes):
    """The fields of ``record`` a write-back changes: "append" adds each new line once, else the last value."""
    values = {}
    for field, (mode, texts) in changes.items():
        if mode == 'append':
            lines = [line for line in str(record[field] or '').splitlines() if line.strip()]
            for text in texts:
                text = mapping.value_to_text(text).strip()
                if text and text not in lines:
                    lines.append(text)
            new = '\n'.join(lines)
            if new != (record[field] or ''):
                values[field] = new
        elif _plain(record[field]) != texts[-1]:
            values[field] = texts[-1]
    return values


def remember_originals(links, previous):
    """Before a write on a record the migration did not create (matched, merged), keep what it held.

    Each link keeps the first value it saw, so rolling back one run gives back what that
    run found; the project's rollback undoes the links newest first, so the oldest
    link's values, the record as it was before the migration, are written last.
    """
    if not previous:
        return
    for link in links.filtered(lambda rec: rec.operation != 'created'):
        merged = dict(previous, **(link.before_values or {}))
        if merged != (link.before_values or {}):
            link.before_values = merged
