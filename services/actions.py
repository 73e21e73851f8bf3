# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The window actions the buttons return, written once."""
from markupsafe import Markup


def list_action(name, model, domain, context=None, help_html=None):
    """A list of ``model`` records matching ``domain``; ``help_html`` is what an empty list says."""
    action = {'type': 'ir.actions.act_window', 'name': name, 'res_model': model, 'view_mode': 'list,form',
              'domain': domain, 'context': context or {}}
    if help_html:
        action['help'] = help_html
    return action


def empty_help(title, text):
    """The empty-list help of an action: a title and a sentence (both already translated)."""
    return Markup('<p class="o_view_nocontent_empty_folder">%s</p><p>%s</p>') % (title, text)


def form_action(model, res_id, dialog=False):
    """One record's form, or a dialog when ``dialog``."""
    action = {'type': 'ir.actions.act_window', 'res_model': model, 'res_id': res_id, 'view_mode': 'form'}
    if dialog:
        action['target'] = 'new'
    return action


def wizard_action(name, model, context):
    """A new wizard in a dialog."""
    return {'type': 'ir.actions.act_window', 'name': name, 'res_model': model, 'view_mode': 'form',
            'target': 'new', 'context': context}
