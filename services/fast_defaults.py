# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Values Odoo's defaults and computes give each new record, resolved once per batch.

``crm.lead``'s ``_compute_team_id`` asks ``crm.team._get_default_team_id`` (two
SELECTs) and ``_compute_stage_id`` asks ``_stage_find`` (one SELECT) for every
lead, although a batch of patients has one salesperson and one type: 3 of the
~3.2 queries per lead of a plain ``create()``.  Here the same methods are called
once per distinct (salesperson, type) and team, and their answers are passed to
``create()``; a value the row already carries is never touched, so a record is
the one Odoo would have made (tests/test_fast_defaults.py compares them).

Probability is left to Odoo: ``_compute_probabilities`` already scores the whole
``create()`` in one ``_pls_get_naive_bayes_probabilities`` call, and it depends on
each lead's own fields (country, e-mail and phone quality, tags).
"""


def prefill(model, vals_list):
    """Complete ``vals_list`` (in place) for one ``create()`` on ``model``."""
    filler = FILLERS.get(model._name)
    if filler and vals_list:
        filler(model, vals_list)
    return vals_list


def _lead_values(Lead, vals_list):
    env = Lead.env
    # Context defaults (default_type, default_team_id...) win, as they do in create().
    defaults = Lead.default_get(['type', 'user_id', 'team_id', 'stage_id', 'company_id'])
    Team = env['crm.team']
    Users, Partners = env['res.users'], env['res.partner']
    teams, stages, companies = {}, {}, {}
    for vals in vals_list:
        for name in ('type', 'team_id', 'stage_id', 'company_id'):
            if name not in vals and name in defaults:
                vals[name] = defaults[name]
        kind = vals.get('type') or defaults.get('type')
        user_id = vals['user_id'] if 'user_id' in vals else defaults.get('user_id')
        user_id = user_id.id if hasattr(user_id, 'id') else user_id
        if 'team_id' not in vals and user_id:
            # _compute_team_id: the user's team for the lead's type ("use leads" / "use pipeline").
            key = (user_id, kind)
            if key not in teams:
                domain = [('use_leads', '=', True)] if kind == 'lead' else [('use_opportunities', '=', True)]
                teams[key] = Team._get_default_team_id(user_id=user_id, domain=domain).id
            vals['team_id'] = teams[key]
        elif 'team_id' not in vals:
            vals['team_id'] = False  # no salesperson: _compute_team_id leaves the team empty
        team_id = vals.get('team_id') or False
        if 'stage_id' not in vals:
            # _compute_stage_id: the first unfolded stage of the team (or of every team).
            if team_id not in stages:
                stages[team_id] = Lead.browse()._stage_find(team_id=team_id, domain=[('fold', '=', False)]).id
            vals['stage_id'] = stages[team_id] or False
        if 'company_id' not in vals and not vals.get('commercial_partner_id'):
            # _compute_company_id with no company yet: the team's, else the user's (the
            # current one when allowed), else the contact's.
            partner_id = vals.get('partner_id') or False
            key = (team_id, user_id or False, False if (team_id or user_id) else partner_id)
            if key not in companies:
                team = Team.browse(team_id)
                if team.company_id:
                    company = team.company_id
                elif user_id:
                    user = Users.browse(user_id)
                    company = env.company if env.company in user.company_ids \
                        else user.company_id & env.companies
                else:
                    company = Partners.browse(partner_id).company_id
                companies[key] = company.id or False
            vals['company_id'] = companies[key]
    return vals_list


FILLERS = {'crm.lead': _lead_values}
