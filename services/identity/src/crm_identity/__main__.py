"""`python -m crm_identity migrate|serve`."""

from pathlib import Path

from crm_identity.bootstrap import build, rotate_signing_key
from crm_identity.settings import IdentitySettings
from crm_kit.runtime import service_main

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    service_main(
        "identity",
        IdentitySettings,
        migrations_dir=MIGRATIONS_DIR,
        build=build,
        commands={"rotate-signing-key": rotate_signing_key},
    )
