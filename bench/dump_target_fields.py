# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Write bench/target_fields.json: the fields a column may feed on each model the templates target.

Run inside ``odoo shell`` on a database with crm_migration installed (see proposal_accuracy.py):
``odoo shell -d DB < bench/dump_target_fields.py``.  The snapshot lets the proposal score run
without a database; regenerate it when Odoo or the templates change.
"""
import json
import os

from odoo.tools import file_path

from odoo.addons.crm_migration.services import binding

root = os.path.dirname(file_path('crm_migration/__manifest__.py'))
models = set()
for name in os.listdir(os.path.join(root, 'data', 'templates')):
    if name.endswith('.json'):
        with open(os.path.join(root, 'data', 'templates', name)) as handle:
            models |= {o['target_model'] for o in json.load(handle)['objects']}
snapshot = {}
for model in sorted(models):
    fields = binding.importable_fields(env, model)  # noqa: F821 - odoo shell's env
    for name, info in fields.items():
        field = env[model]._fields[name]  # noqa: F821
        if field.type in ('many2one', 'many2many'):
            info['relation'] = field.comodel_name
    snapshot[model] = fields
with open(os.path.join(root, 'bench', 'target_fields.json'), 'w') as handle:
    json.dump(snapshot, handle, indent=1, sort_keys=True)
    handle.write('\n')
print('models', len(snapshot))
