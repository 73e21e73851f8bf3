// Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
/**
 * A newcomer's whole path, as the README's Usage section tells it:
 * new project -> upload the export -> check and confirm the mapping -> audit and decide the
 * issues -> sample run and its differences -> approve -> full run followed live -> the leads
 * in CRM's My Pipeline -> roll everything back.
 *
 * The export is the demo-sized clinic fixture (tests/fixtures/clinic) that tests/test_tour.py
 * zips and leaves as an attachment named crm_migration_tour_export.zip: the tour downloads it
 * and drops it on the upload wizard's file input, as a user choosing the file would.
 */
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

const EXPORT = "crm_migration_tour_export.zip";

async function callKw(model, method, args, kwargs = {}) {
    return rpc(`/web/dataset/call_kw/${model}/${method}`, { model, method, args, kwargs });
}

async function chooseExportFile() {
    const [attachment] = await callKw("ir.attachment", "search_read", [[["name", "=", EXPORT]], ["id"]]);
    const response = await fetch(`/web/content/${attachment.id}?download=true`);
    const file = new File([await response.blob()], "clinic_export.zip", { type: "application/zip" });
    const input = document.querySelector(".modal .o_field_many2many_binary input.o_input_file");
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
}

function breadcrumb(text) {
    return {
        content: `Back to ${text}`,
        trigger: `.o_breadcrumb a:contains('${text}')`,
        run: "click",
    };
}

/** The issues list: select every open finding and accept them in one click. */
function decideAllIssues() {
    return [
        {
            content: "The findings are listed",
            trigger: ".o_list_view .o_data_row",
        },
        {
            content: "Select them all",
            trigger: ".o_list_view thead .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Accept the selected findings in one click",
            trigger: ".o_control_panel button[name=action_accept]",
            run: "click",
        },
        {
            content: "No open finding is left",
            trigger: ".o_list_view .o_view_nocontent, .o_list_view .o_list_renderer:not(:has(.o_data_row))",
        },
    ];
}

registry.category("web_tour.tours").add("crm_migration_tour", {
    url: "/odoo/action-crm_migration.crm_migration_project_action",
    steps: () => [
        // 1. A new project: the empty list says what a project is and where to start.
        {
            content: "The empty list explains what a project is",
            trigger: ".o_view_nocontent:contains('Create your first migration project')",
        },
        {
            content: "Create a project",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".o_field_widget[name=name] input",
            run: "edit Tour clinic",
        },
        {
            content: "The status bar starts at the first step, and a sentence says what to do",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Connect or upload')",
        },
        {
            trigger: ".o_crm_migration_next_step:contains('Upload your software')",
        },
        // 2. Upload the export through the wizard.
        {
            content: "Upload files",
            trigger: ".o_statusbar_buttons button[name=action_open_upload].btn-primary",
            run: "click",
        },
        {
            content: "Choose the exported ZIP",
            trigger: ".modal .o_field_many2many_binary input.o_input_file:not(:visible)",
            run: chooseExportFile,
        },
        {
            content: "The file is uploaded",
            trigger: ".modal .o_attachment:contains('clinic_export.zip')",
        },
        {
            content: "Detect the objects of each table",
            trigger: ".modal button[name=action_detect]",
            run: "click",
        },
        {
            content: "Each table is recognised",
            trigger: ".modal .o_field_widget[name=line_ids] .o_data_row:contains('patients.csv')",
        },
        {
            content: "Use these tables",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        // 3. Check the proposed mapping, then confirm it.
        {
            content: "Next step: the mapping",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Mapping')",
        },
        {
            content: "Open the patients' mapping",
            trigger: ".o_field_widget[name=object_ids] .o_data_row:contains('Patients') button[name=action_open_fields]",
            run: "click",
        },
        {
            content: "Each source column is mapped to an Odoo field, by its label",
            trigger: ".o_list_renderer .o_data_row:contains('Email')",
        },
        breadcrumb("Tour clinic"),
        {
            content: "Open the appointments' mapping",
            trigger: ".o_field_widget[name=object_ids] .o_data_row:contains('Appointments') button[name=action_open_fields]",
            run: "click",
        },
        {
            content: "The status column feeds the stage through a value map: open it",
            trigger: ".o_list_view .o_data_row:has(td[name=source_label]:contains('Status')):has(td[name=target_field_id]:contains('Stage')) button[name=action_open_value_map]",
            run: "click",
        },
        {
            content: "Each value of the file with its rows; 'Tentative' has no stage yet",
            trigger: ".modal .o_data_row:has(td[name=source_value]:contains('Tentative')) td[name=target_value]",
            run: "click",
        },
        {
            content: "Tentative appointments go to the New stage",
            trigger: ".modal .o_data_row:has(td[name=source_value]:contains('Tentative')) td[name=target_value] input",
            run: "edit New",
        },
        {
            trigger: ".modal button[name=action_apply]",
            run: "click",
        },
        {
            content: "The value map is saved",
            trigger: "body:not(:has(.modal))",
        },
        breadcrumb("Tour clinic"),
        {
            content: "Confirm the mapping",
            trigger: ".o_statusbar_buttons button[name=action_confirm_mapping]",
            run: "click",
        },
        // 4. Audit, and decide every finding at once.
        {
            content: "Run the audit",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Audit')",
        },
        {
            trigger: ".o_statusbar_buttons button[name=action_audit]",
            run: "click",
        },
        ...decideAllIssues(),
        breadcrumb("Tour clinic"),
        // 5. Sample run and its differences.
        {
            content: "Next step: the sample",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Sample')",
        },
        {
            trigger: ".o_statusbar_buttons button[name=action_sample]",
            run: "click",
        },
        {
            content: "Process the sample now",
            trigger: ".o_statusbar_buttons button[name=action_process_now]",
            run: "click",
        },
        {
            content: "The sample is done",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Done')",
        },
        {
            content: "Open its field-level differences",
            trigger: ".o-form-buttonbox button[name=action_open_diff]",
            run: "click",
        },
        {
            content: "Each field shows the source value and the value in Odoo",
            trigger: ".o_list_renderer th:contains('Value in Odoo')",
        },
        breadcrumb("Tour clinic"),
        // 6. Decide what loading the sample raised, approve, start, follow the run live.
        {
            content: "Loading the sample raised a finding: decide it",
            trigger: ".o_crm_migration_next_step:contains('blocking issues')",
        },
        {
            trigger: ".o_statusbar_buttons button[name=action_open_issues]",
            run: "click",
        },
        ...decideAllIssues(),
        breadcrumb("Tour clinic"),
        {
            content: "Approve the sample",
            trigger: ".o_statusbar_buttons button[name=action_approve]",
            run: "click",
        },
        {
            content: "Next step: migrate",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Migrate')",
        },
        {
            trigger: ".o_statusbar_buttons button[name=action_start_run]",
            run: "click",
        },
        {
            content: "The run is queued",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Queued')",
        },
        {
            content: "The background job works (here: asked directly, not through this form)",
            trigger: ".o_form_view .o_crm_migration_live_progress:not(:visible)",
            async run() {
                const [run] = await callKw("crm.migration.run", "search_read",
                    [[["kind", "=", "full"], ["state", "=", "queued"]], ["id"]]);
                await callKw("crm.migration.run", "action_process_now", [[run.id]]);
            },
        },
        {
            content: "The form follows the run by itself: done, 100 %",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Done')",
        },
        {
            trigger: ".o_field_widget[name=progress]:contains('100')",
        },
        {
            content: "The statistics per object are read-only",
            trigger: ".o_field_widget[name=stat_ids]:not(:has(.o_field_x2many_list_row_add)):not(:has(.o_list_record_remove))",
        },
        // 7. The migrated leads in CRM's My Pipeline.
        stepUtils.showAppsMenuItem(),
        {
            content: "Open CRM: My Pipeline",
            trigger: ".o_app[data-menu-xmlid='crm.crm_menu_root']",
            run: "click",
        },
        {
            content: "The patients are leads in My Pipeline",
            trigger: ".o_kanban_record:contains('Ångström')",
            run: "click",
        },
        {
            content: "Its migrated data has a page of its own",
            trigger: ".o_notebook .nav-link:contains('Migrated data')",
            run: "click",
        },
        {
            content: "The project's fields are grouped under its name",
            trigger: ".o_notebook .tab-pane.active:contains('Tour clinic'):contains('Date of birth')",
        },
        {
            content: "One page, however many projects migrated the record",
            trigger: ".o_notebook:not(:has(.nav-link:contains('Migrated data') ~ .nav-link:contains('Migrated data')))",
        },
        // 8. Roll everything back.
        stepUtils.showAppsMenuItem(),
        {
            content: "Back to the project",
            trigger: ".o_app[data-menu-xmlid='crm_migration.crm_migration_menu_root']",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('Tour clinic') .o_data_cell",
            run: "click",
        },
        {
            content: "Roll back everything",
            trigger: ".o_statusbar_buttons button[name=action_rollback]",
            run: "click",
        },
        {
            trigger: ".modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "Process the rollback now",
            trigger: ".o_statusbar_buttons button[name=action_process_now]",
            run: "click",
        },
        {
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Done')",
        },
        {
            content: "Everything the migration loaded is removed",
            trigger: ".o_breadcrumb:contains('Rollback #')",
        },
    ],
});
