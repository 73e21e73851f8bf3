# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import crm_migration_upload
from . import crm_migration_upload_line
from . import crm_migration_mapping_import
