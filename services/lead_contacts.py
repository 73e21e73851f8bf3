# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The contacts of a batch of newly migrated leads, made and recorded for the whole batch.

``ObjectLoader._lead_partner`` serves one lead a later object looks up (an invoice's
patient) and costs ~7 queries; an object that creates a contact for every lead it
loads does the same work here with one search of the links, one ``create()`` of the
contacts and one of their link rows.
"""
from .constants import LIVE_OPERATIONS


def create_lead_partners(loader, entries, import_context):
    """Give each lead of ``entries`` (just created) a contact, recorded as the row's ``res.partner`` link."""
    leads = loader.env['crm.lead'].browse([e.res_id for e in entries])
    ensure_lead_partners(
        loader,
        loader.obj,
        [(entry.source_id, lead) for entry, lead in zip(entries, leads, strict=True)],
        import_context,
    )


def ensure_lead_partners(loader, obj, pairs, import_context):
    """The contact of each ``(source_id, lead)`` of ``obj``, created (and recorded) when the lead has none.

    Also serves a later object that looks the leads up (an invoice's patient wants a
    res.partner): the whole batch's contacts are made here before its rows ask one by one.
    Returns ``{source_id: partner id}``.
    """
    env = loader.env
    result = {source_id: lead.partner_id.id for source_id, lead in pairs if lead.partner_id}
    wanted = [(source_id, lead) for source_id, lead in pairs if not lead.partner_id]
    if not wanted:
        return result
    Record = loader.Record
    links = Record.search([('object_id', '=', obj.id),
                           ('source_id', 'in', [source_id for source_id, _lead in wanted]),
                           ('res_model', 'in', ('res.partner', 'crm.lead'))])
    partner_links = {link.source_id: link for link in links if link.res_model == 'res.partner'}
    now = env.cr.now()
    # The lead was just written by the migration, not by a user.
    links.filtered(lambda link: link.res_model == 'crm.lead').synced_at = now
    Partner = env['res.partner'].with_context(**import_context)
    kept = Partner.with_context(active_test=False).browse(
        [link.res_id for link in partner_links.values() if link.operation in LIVE_OPERATIONS]).exists()
    to_create, partners = [], {}
    for source_id, lead in wanted:
        link = partner_links.get(source_id)
        if link and link.operation in LIVE_OPERATIONS and link.res_id in kept.ids:
            # The contact a rollback had to keep (archived): the same person again.
            partners[source_id] = Partner.browse(link.res_id)
        else:
            to_create.append((source_id, lead._prepare_customer_values(lead.contact_name or lead.name)))
    revived = Partner.browse([p.id for p in partners.values()])
    if revived:
        revived.write({'active': True})
    created = Partner.create([values for _entry, values in to_create]) if to_create else Partner
    for (source_id, _values), partner in zip(to_create, created, strict=True):
        partners[source_id] = partner
    for source_id, lead in wanted:
        lead.with_context(**import_context).partner_id = partners[source_id]
        result[source_id] = partners[source_id].id
    sequence = iter(loader._sequence(len(to_create)))
    message = env._("Contact of the migrated lead")
    new_links = []
    for source_id, _values in to_create:
        values = {'res_id': partners[source_id].id, 'operation': 'created', 'run_id': loader.run.id,
                  'created_run_id': loader.run.id, 'synced_at': now, 'synced_uid': env.uid,
                  'write_seq': next(sequence), 'message': message}
        link = partner_links.get(source_id)
        if link:
            link.write(values)
        else:
            new_links.append(dict(values, project_id=loader.project.id, object_id=obj.id,
                                  source_id=source_id, res_model='res.partner'))
    if new_links:
        Record.create(new_links)
    return result
