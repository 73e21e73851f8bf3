# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Audit findings about the mapping itself, before any row is read.

A required template line that no column of the uploaded file feeds was switched off by the
binding (``binding._bind_line``): loading without it would give orders named S00001 and dated
today, appointments without their practitioner, invoice lines without their order.  It is never
left silently off: the audit asks for the column in one blocking issue per line, which the
consultant resolves by choosing the column on the line (the issue opens it) or accepts to load
without it.
"""
MISSING_COLUMN = 'missing_column'


def missing_column_lines(project):
    """The required lines of bound, enabled objects that binding switched off for want of a column,
    when no other enabled line of the object feeds the same target (a full name may stand in for
    first + last)."""
    lines = project.env['crm.migration.field']
    if not project._is_file_source():
        return lines
    for obj in project.object_ids.filtered(lambda o: o.enabled and o.attachment_id):
        fed = {line.target_field for line in obj.field_ids if line.enabled and line._source_list()}
        lines |= obj.field_ids.filtered(
            lambda line, fed=fed: line.required and not line.enabled and line.note and line.target_field not in fed)
    return lines


def add_missing_column_issues(audit):
    """One blocking issue per required line without its column (``audit``: a services.audit.Audit)."""
    env, project = audit.env, audit.project
    env['crm.migration.issue'].search([
        ('project_id', '=', project.id), ('state', '=', 'open'), ('kind', '=', MISSING_COLUMN)]).unlink()
    for line in missing_column_lines(project):
        obj = line.object_id
        spellings = [group[0] for group in (line.source_candidates or []) if group] or line._source_list()
        audit.add(obj, MISSING_COLUMN, line.target_field, env._(
            "%(object)s: no column of %(file)s was recognised as %(target)s (%(field)s), which every row needs; "
            "the template looks for a column like %(spellings)s. Open the mapping line, choose the column "
            "that holds it and enable the line; or accept to load without it (Odoo's default then applies, "
            "or the rows fail if Odoo requires it).",
            object=obj.label or obj.name, file=obj.attachment_id.name or '-',
            target=line.target_description or line.target_field, field=line.target_field,
            spellings=', '.join(spellings) or '-'), res_model='crm.migration.field', res_id=line.id)
