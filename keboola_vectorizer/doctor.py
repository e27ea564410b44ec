"""`keboola-vectorizer doctor`: every check a probe or an operator needs, none of them raising.

Keboola: each configured project's token verifies against its stack. Qdrant: reachable, the
collection's state, cluster peers and shard replicas (server). Model: the configured embedder
matches the collection's recorded model and dimension.
"""

from __future__ import annotations

from keboola_vectorizer.config import Settings, secrets_dir
from keboola_vectorizer.errors import VectorizerError
from keboola_vectorizer.store.base import DoctorCheck, HasHealthChecks


def _keboola_checks(settings: Settings) -> list[DoctorCheck]:
    from keboola_vectorizer.keboola.client import KeboolaClient
    from keboola_vectorizer.keboola.projects_config import load_projects_config, sources_from_env

    try:
        if settings.kbc_projects_config:
            sources = load_projects_config(settings.kbc_projects_config, secrets_dir())
        elif settings.kbc_storage_api_url or settings.kbc_storage_token:
            token = settings.kbc_storage_token.get_secret_value() if settings.kbc_storage_token else None
            sources = sources_from_env(settings.kbc_storage_api_url, token)
        else:
            return [DoctorCheck("keboola", True, "no project configured (KBC_STORAGE_API_URL / "
                                "KBC_PROJECTS_CONFIG unset); searches and --snapshot runs need none")]
    except VectorizerError as error:
        return [DoctorCheck("keboola config", False, error.one_line())]
    checks = []
    for source in sources:
        name = f"keboola {source.label or source.url}"
        try:
            with KeboolaClient(source.url, source.token, deadline_s=20, timeout_s=10) as client:
                owner = client.verify_token().get("owner") or {}
            checks.append(DoctorCheck(name, True, f"token valid for project {owner.get('name')} "
                                                  f"({owner.get('id')}) on {source.url}"))
        except VectorizerError as error:
            checks.append(DoctorCheck(name, False, error.one_line()))
    return checks


def _model_check(settings: Settings, store: object) -> DoctorCheck:
    from keboola_vectorizer.embedding.base import create_embedder

    meta = store.meta()  # type: ignore[attr-defined]
    try:
        embedder = create_embedder(settings.embedding_settings())
        configured = f"{embedder.id}"
    except VectorizerError as error:
        return DoctorCheck("model", False, error.one_line())
    if meta is None:
        return DoctorCheck("model", True, f"{configured} (no collection yet)")
    if meta.embedder_id != embedder.id or meta.dimension != embedder.dimension:
        return DoctorCheck("model", False, f"configured {configured} but the collection was built with "
                                           f"{meta.describe()} — run `index --rebuild` or configure that model")
    return DoctorCheck("model", True, f"{configured} matches the collection")


def run_checks(settings: Settings) -> list[DoctorCheck]:
    from keboola_vectorizer.store.factory import open_store

    checks = _keboola_checks(settings)
    try:
        store = open_store(settings, interactive=True)  # a person or a probe waits on doctor
    except VectorizerError as error:
        return checks + [DoctorCheck("qdrant reachable", False, error.one_line())]
    try:
        store_checks = store.doctor_checks() if isinstance(store, HasHealthChecks) else []
        checks.extend(store_checks)
        if all(check.ok for check in store_checks):
            checks.append(_model_check(settings, store))
    finally:
        store.close()
    return checks
