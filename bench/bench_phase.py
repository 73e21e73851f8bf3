# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""One measured phase of bench/run.sh, in its own process (so peak RSS is its own).

    python bench/bench_phase.py PHASE ODOO_CONF DB EXPORT_DIR BATCH

PHASE: ``load`` (Odoo's own ``crm.lead.load()``, the baseline any admin has),
``patients`` (crm_migration, patients only), ``clinic`` (every object) or
``rollback`` (the patients loaded, untimed, then the run rolled back, timed).
``queue_prepare`` sets a clinic project up and prints its id; ``queue_run``
(BATCH is then the project id) starts its full run on queue_job and waits for
a running Odoo server's job workers to finish it.
Prints one JSON line: records, seconds, records/s, queries per record (every
SQL statement of the timed part, commits aside), peak RSS (MiB).
"""
import csv
import json
import os
import resource
import sys
import time


def odoo_env(conf, db, *options):
    import odoo  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(['-c', conf, '-d', db, '--log-level=warn', *options])
    from odoo.modules.registry import Registry  # noqa: PLC0415

    registry = Registry(db)
    cr = registry.cursor()
    return odoo.api.Environment(cr, odoo.SUPERUSER_ID, {}), cr


def phase_load(env, cr, export, batch):
    """What Settings > Import does: load() per batch, one transaction per batch."""
    fields = ['name', 'contact_name', 'email_from', 'phone', 'street', 'city', 'zip', 'description']
    Lead = env['crm.lead'].with_context(tracking_disable=True, mail_create_nolog=True,
                                        mail_create_nosubscribe=True, mail_notrack=True)
    done = 0
    with open(os.path.join(export, 'patients.csv'), encoding='cp1252', newline='') as handle:
        reader = csv.DictReader(handle)
        rows = []
        for row in reader:
            name = '%s %s' % (row['First Name'], row['Last Name'])
            rows.append([name, name, row['Email'], row['Phone'] or row['Mobile Phone'], row['Street'],
                         row['City'], row['Postcode'], row['Notes']])
            if len(rows) == batch:
                result = Lead.load(fields, rows)
                assert result['ids'], result['messages'][:3]
                done += len(result['ids'])
                cr.commit()
                rows = []
        if rows:
            result = Lead.load(fields, rows)
            done += len(result['ids'] or [])
            cr.commit()
    return done


def bench_project(env, name, export, batch, only=None):
    """A clinic project with the export's files (or only the file named ``only``) uploaded
    and its custom fields made, as a consultant's first clicks leave it."""
    project = env['crm.migration.project'].create({
        'name': name, 'batch_size': batch, 'source_tz': 'Australia/Sydney'})
    files = {}
    for root, _dirs, names in os.walk(export):
        for filename in sorted(names):
            if only and filename != only:
                continue
            with open(os.path.join(root, filename), 'rb') as handle:
                files[filename] = handle.read()
    project._upload_export(files)
    project.action_prepare_fields()
    return project


def queries():
    # The process-wide counter: Cursor.sql_log_count is reset by every commit's log.
    from odoo import sql_db  # noqa: PLC0415

    return sql_db.sql_counter


def phase_migration(env, cr, export, batch, only_patients):
    project = bench_project(env, 'bench', export, batch, only='patients.csv' if only_patients else None)
    cr.commit()
    run = project._create_run('full')
    elapsed, counted = _timed_execute(cr, run)
    created = sum(run.stat_ids.mapped('created_count'))
    failed = sum(run.stat_ids.mapped('failed_count'))
    return created, failed, elapsed, counted, run


def _timed_execute(cr, run):
    """Run to the end, committing every batch as the cron does; return (seconds, queries)."""
    start, counted = time.perf_counter(), queries()

    def commit(_processed):
        cr.commit()
        return float('inf')

    run._execute(commit=commit)
    assert run.state == 'done', run.message
    return time.perf_counter() - start, queries() - counted


def phase_rollback(env, cr, export, batch):
    """Roll back a patients run: what the link table undoes, timed alone."""
    created, _failed, _elapsed, _queries, loaded = phase_migration(env, cr, export, batch, True)
    cr.commit()
    run = env['crm.migration.run'].create({'project_id': loaded.project_id.id, 'kind': 'rollback',
                                           'rollback_of_id': loaded.id})
    cr.commit()
    elapsed, counted = _timed_execute(cr, run)
    left = env['crm.lead'].with_context(active_test=False).search_count([])
    return created, left, elapsed, counted


def phase_queue_prepare(env, cr, export, batch):
    """A clinic project ready for its full run, for the queue_job servers of bench/run.sh."""
    # The server's job runner is loaded with --load=web,queue_job; this process has none,
    # so "auto" would keep the cron: say it explicitly.
    env['ir.config_parameter'].set_param('crm_migration.use_queue_job', '1')
    project = bench_project(env, 'bench queue_job', export, batch)
    cr.commit()
    return project.id


def phase_queue_run(env, cr, project_id, timeout=3600):
    """Start the full run on queue_job and wait for the server's workers to finish it."""
    project = env['crm.migration.project'].browse(project_id)
    run = project._create_run('full')
    run._schedule()
    assert run.use_queue_job, "the run did not go to queue_job"
    cr.commit()
    start = time.perf_counter()
    while True:
        time.sleep(0.5)
        cr.rollback()  # a new snapshot: what the workers committed since
        env.invalidate_all()
        if run.state not in ('queued', 'running'):
            break
        failed = env['queue.job'].search([('state', '=', 'failed')], limit=1)
        if failed:
            raise SystemExit("job %s failed: %s" % (failed.name, failed.exc_info))
        if time.perf_counter() - start > timeout:
            raise SystemExit("the run is still %s after %d s" % (run.state, timeout))
    elapsed = time.perf_counter() - start
    assert run.state == 'done', run.message
    failed_jobs = env['queue.job'].search_count([('graph_uuid', '=', run.job_graph_uuid), ('state', '=', 'failed')])
    return sum(run.stat_ids.mapped('created_count')), sum(run.stat_ids.mapped('failed_count')), elapsed, \
        failed_jobs, run.batch_count


def main():
    phase, conf, db, export, batch = sys.argv[1:6]
    batch = int(batch)
    env, cr = odoo_env(conf, db)
    if phase.startswith('queue_'):
        try:
            if phase == 'queue_prepare':
                print(json.dumps({'project_id': phase_queue_prepare(env, cr, export, batch)}))
            else:
                records, failed, elapsed, failed_jobs, batches = phase_queue_run(env, cr, batch)
                print(json.dumps({'phase': phase, 'records': records, 'failed': failed, 'seconds': round(elapsed, 2),
                                  'records_per_s': round(records / elapsed, 1), 'failed_jobs': failed_jobs,
                                  'batches': batches}))
            cr.commit()
        finally:
            cr.close()
        return
    try:
        if phase == 'load':
            start, counted = time.perf_counter(), queries()
            records = phase_load(env, cr, export, batch)
            elapsed, failed, statements = time.perf_counter() - start, 0, queries() - counted
        elif phase == 'rollback':
            # "failed": leads still there after the rollback.
            records, failed, elapsed, statements = phase_rollback(env, cr, export, batch)
        else:
            records, failed, elapsed, statements, _run = phase_migration(env, cr, export, batch,
                                                                          phase == 'patients')
        cr.commit()
    finally:
        cr.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'phase': phase, 'records': records, 'failed': failed, 'seconds': round(elapsed, 2),
                      'records_per_s': round(records / elapsed, 1) if elapsed else None,
                      'queries_per_record': round(statements / records, 2) if records else None,
                      'peak_rss_mib': round(peak, 1)}))


if __name__ == '__main__':
    main()
