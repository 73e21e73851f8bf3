# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A separate Odoo process for tests/test_crash_resume.py, which kills it with SIGKILL.

    python crash_worker.py DB ADDONS_PATH DATA_DIR setup
    python crash_worker.py DB ADDONS_PATH DATA_DIR run PROJECT_ID KILL_AT (between|inside)
    python crash_worker.py DB ADDONS_PATH DATA_DIR resume
    python crash_worker.py DB ADDONS_PATH DATA_DIR report PROJECT_ID

Prints one JSON line per action.  Not a test module (pytest does not collect it).
"""
import json
import os
import signal
import sys


def environment(db, addons_path, data_dir):
    import odoo  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(['-d', db, '--addons-path', addons_path, '--data-dir', data_dir, '--log-level=warn'])
    from odoo.modules.registry import Registry  # noqa: PLC0415

    cr = Registry(db).cursor()
    return odoo.api.Environment(cr, odoo.SUPERUSER_ID, {}), cr


def setup(env, cr):
    from odoo.tools import file_open  # noqa: PLC0415

    env['product.product'].create({'name': 'Consultation', 'default_code': 'CONSULT'})
    project = env['crm.migration.project'].create({'name': 'Crash', 'batch_size': 2, 'source_tz': 'Australia/Sydney'})
    files = {}
    for name in ('appointments.csv', 'attachments.csv', 'billing.xlsx', 'consent_form.pdf', 'patients.csv',
                 'practitioners.csv', 'registration.png'):
        with file_open('crm_migration/tests/fixtures/clinic/%s' % name, 'rb') as handle:
            files[name] = handle.read()
    project._upload_export(files)
    project.action_prepare_fields()
    cr.commit()  # pylint: disable=invalid-commit  # a worker process: it commits as the cron
    return {'project_id': project.id}


def run(env, cr, project_id, kill_at, mode):
    from odoo.addons.crm_migration.services import loader  # noqa: PLC0415

    project = env['crm.migration.project'].browse(project_id)
    migration = project._create_run('full')
    migration._start()
    cr.commit()  # pylint: disable=invalid-commit  # a worker process: it commits as the cron
    batches = {'count': 0}
    original = loader.ObjectLoader.load

    def load(self, rows):
        result = original(self, rows)
        batches['count'] += 1
        if mode == 'inside' and batches['count'] == kill_at:
            # Rows, links and counters of this batch are written, not committed.
            env.flush_all()
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    def commit(_processed):
        cr.commit()  # pylint: disable=invalid-commit  # a worker process: it commits as the cron
        if mode == 'between' and batches['count'] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return float('inf')

    loader.ObjectLoader.load = load
    migration._execute(commit=commit)
    return {'state': migration.state, 'batches': batches['count']}


def resume(env, cr):
    # What the scheduler does after a restart: outside a cron job,
    # _commit_progress only commits.
    env['crm.migration.run']._cron_process_runs()
    cr.commit()  # pylint: disable=invalid-commit  # a worker process: it commits as the cron
    return {'ok': True}


def report(env, cr, project_id):
    project = env['crm.migration.project'].browse(project_id)
    migration = project.run_ids.filtered(lambda r: r.kind == 'full')
    leads = env['crm.lead'].with_context(active_test=False)
    sources = leads.search([('x_source_patient_id', '!=', False)]).mapped(
        lambda lead: (lead.x_appointment_id or lead.x_source_patient_id))
    return {
        'runs': len(migration),
        'state': migration.state,
        'stats': {s.object_id.name: [s.read_count, s.created_count, s.updated_count, s.unchanged_count,
                                     s.skipped_count, s.failed_count] for s in migration.stat_ids},
        'leads': len(sources),
        'distinct_leads': len(set(sources)),
        'orders': env['sale.order'].search_count([('name', '=like', 'INV-%')]),
        # Past appointments are logged done (a message of their activity type), future ones stay
        # open: one of either per appointment, whatever the kill did.
        'activities': env['mail.activity'].search_count([('res_model', '=', 'crm.lead')])
        + env['mail.message'].search_count([('model', '=', 'crm.lead'), ('mail_activity_type_id', '!=', False)]),
        'links': len(project.record_ids),
    }


def main():
    db, addons_path, data_dir, action, *args = sys.argv[1:]
    env, cr = environment(db, addons_path, data_dir)
    try:
        if action == 'setup':
            result = setup(env, cr)
        elif action == 'run':
            result = run(env, cr, int(args[0]), int(args[1]), args[2])
        elif action == 'resume':
            result = resume(env, cr)
        else:
            result = report(env, cr, int(args[0]))
    finally:
        cr.close()
    sys.stdout.write(json.dumps(result) + '\n')  # the answer to the test that started this process


if __name__ == '__main__':
    main()
