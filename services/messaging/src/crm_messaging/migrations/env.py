from crm_kit.db.migrations import run_env
from crm_messaging.models import Base

run_env(Base.metadata)
