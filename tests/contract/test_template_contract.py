"""template.yaml <-> code: handlers import, routes match resolvers, env vars match settings, NumPy only where
the template gives a function the math layer."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from infra.local.template import ROOT, read_app

APP = read_app()
FUNCTIONS = sorted(APP.functions)
POWERTOOLS_GLOBALS = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
    "STAGE",
}
# read by the Lambda runtime, its extensions (the FIS extension, the ADOT layer) and Powertools, never by a settings
# model: the tracing and fault-injection wiring (tests/contract/test_lambda_wrappers.py)
RUNTIME_VARIABLES = {"AWS_LAMBDA_EXEC_WRAPPER", "AWS_FIS_CONFIGURATION_LOCATION", "POWERTOOLS_TRACE_DISABLED"}


def module(lid: str) -> Any:
    return importlib.import_module(APP.functions[lid].module_name)


def test_layout_one_folder_per_function_with_a_thin_handler() -> None:
    folders = sorted(p.name for p in (ROOT / "functions").iterdir() if p.is_dir() and not p.name.startswith("__"))
    assert folders == sorted(fn.code_uri.name for fn in APP.functions.values())
    for lid, fn in APP.functions.items():
        assert lid == "".join(part.capitalize() for part in fn.code_uri.name.split("_")) + "Function"
        assert sorted(p.name for p in fn.code_uri.iterdir() if p.suffix == ".py") == ["handler.py"]
        assert len((fn.code_uri / "handler.py").read_text().splitlines()) <= 60, f"{lid} handler is not thin"


@pytest.mark.parametrize("lid", FUNCTIONS)
def test_every_handler_takes_its_typed_deps_from_the_composition_root(lid: str) -> None:
    """Each function names its ``Deps``: a dataclass of the composition root (``gpubroker.wiring``) or a service's
    own bundle of ports; an API function's extends ``ApiDeps`` (its front door), and one with a mutating route
    ``AuditedApiDeps`` (its audit trail), so neither reaches the handler through a hidden global."""
    from gpubroker.api.deps import ApiDeps, AuditedApiDeps

    mod = module(lid)
    deps: type = mod.Deps
    assert dataclasses.is_dataclass(deps) and deps.__module__.startswith(
        ("gpubroker.wiring.", "gpubroker.services.", "gpubroker.api.deps")
    )
    if getattr(mod, "app", None) is not None:
        assert issubclass(deps, ApiDeps), lid
        mutating = any(r.function == lid and r.method in MUTATING and not r.path.startswith(COMPUTATIONS)
                       for r in APP.routes)  # fmt: skip
        assert issubclass(deps, AuditedApiDeps) == mutating, lid


@pytest.mark.parametrize("lid", FUNCTIONS)
def test_every_handler_imports(lid: str) -> None:
    assert callable(getattr(module(lid), APP.functions[lid].attribute))


def test_template_routes_equal_resolver_routes() -> None:
    from_template = {(r.method, r.path, r.function) for r in APP.routes}
    from_code = set()
    for lid in FUNCTIONS:
        app = getattr(module(lid), "app", None)
        if app is None:
            continue
        for route in app._static_routes + app._dynamic_routes:
            path = route.path.replace("<", "{").replace(">", "}")
            methods = route.method if isinstance(route.method, tuple | list) else (route.method,)
            for method in methods:
                from_code.add((method.upper(), path, lid))
    assert from_template == from_code


@pytest.mark.parametrize("lid", FUNCTIONS)
def test_environment_matches_settings_model(lid: str) -> None:
    """A function's own variables are its settings' fields less the Globals ones; Globals hold the Powertools
    variables and the API front door's (EdgeSettings), and no function repeats one of them; the runtime's own
    variables (``RUNTIME_VARIABLES``) are no settings."""
    from gpubroker.config import EdgeSettings

    settings = module(lid).Settings
    declared = set(APP.functions[lid].environment) - RUNTIME_VARIABLES
    assert set(APP.global_env) - RUNTIME_VARIABLES == POWERTOOLS_GLOBALS | set(EdgeSettings.model_fields)
    assert not declared & set(APP.global_env), lid
    assert declared == set(settings.model_fields) - set(APP.global_env), lid


def _imports_numpy(lid: str) -> bool:
    code = f"import sys; import {APP.functions[lid].module_name}; print(json.dumps('numpy' in sys.modules))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("layers/core", "layers/math", ".")),
    }
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return bool(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("lid", FUNCTIONS)
def test_numpy_only_in_functions_with_the_math_layer(lid: str) -> None:
    has_math_layer = {"Ref": "MathLayer"} in APP.functions[lid].layers
    assert _imports_numpy(lid) == has_math_layer, (
        f"{lid}: imports numpy={not has_math_layer}, math layer={has_math_layer}"
    )


def test_core_layer_has_no_numpy_at_import() -> None:
    """Every core module that does not itself compute with NumPy imports without pulling NumPy in."""
    core = ROOT / "layers/core"
    numpy_free = []
    for path in sorted((core / "gpubroker").rglob("*.py")):
        if re.search(r"^(from|import) (numpy|gpumath)\b", path.read_text(), re.MULTILINE):
            continue
        numpy_free.append(".".join(path.relative_to(core).with_suffix("").parts).removesuffix(".__init__"))
    assert "gpubroker.services.catalog" in numpy_free and "gpubroker.wiring" in numpy_free
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(core), str(ROOT / "layers/math")])}
    code = f"import sys, importlib\nfor m in {numpy_free!r}: importlib.import_module(m)\nprint('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_schedules_name_a_known_provider_and_a_catalog() -> None:
    from gpubroker.domain.providers import PROVIDERS

    inputs = [s.input for s in APP.schedules if "job" not in s.input]
    assert inputs and all(i["provider"] in PROVIDERS for i in inputs)
    # each names its source: a published SkyPilot catalog (https) or the provider's live API (an adapter exists)
    from gpubroker.adapters.providers import SOURCES

    for i in inputs:
        assert (
            i["catalog"].startswith("https://")
            if "catalog" in i
            else (i["source"] == "api" and i["provider"] in SOURCES)
        )
    assert {s.input["job"] for s in APP.schedules if "job" in s.input} == {
        "train-collaborative-filter",
        "audit-checkpoint",
        "key-rotation",
        "sweep-connections",
    }
    assert len({i["provider"] for i in inputs}) == len(inputs)  # one schedule per provider


def test_api_functions_use_the_shared_resolver() -> None:
    for lid in FUNCTIONS:
        src = (APP.functions[lid].code_uri / "handler.py").read_text()
        if "app = " in src:
            assert "app = new_resolver()" in src, lid
        assert "boto3" not in src, f"{lid}: boto3 belongs in adapters"


def test_only_the_signers_can_read_the_private_signing_keys() -> None:
    """Least privilege for the JWT keys: a function can read or write SigningKeysSecret only if it signs (its
    settings name the secret), and then it can also publish the public parameter; every function that verifies a
    token (the authorizer, and the front door of every public route, which learns a signed-in caller's plan from the
    token) reads the public parameter, and nothing else of the keys."""
    functions = APP.resources("AWS::Serverless::Function")
    routed = {r.function for r in APP.routes if not r.authorizer} | {"AuthorizerFunction"}
    signers = set()
    for lid in FUNCTIONS:
        policies = json.dumps(functions[lid]["Properties"].get("Policies", []), default=str)
        signs = "SIGNING_KEYS_SECRET_ID" in module(lid).Settings.model_fields
        assert ("SigningKeysSecret" in policies) == signs, lid
        reads_public = "'SSMParameterReadPolicy'" in policies or '"SSMParameterReadPolicy"' in policies
        if signs:
            signers.add(lid)
            assert "ssm:PutParameter" in policies and "PublicKeysParameter" in policies, lid
        if lid in routed or signs:
            assert reads_public and "PublicKeysParameter" in policies, lid
    assert signers == {
        "ApiAuthRegisterFunction",
        "ApiAuthLoginFunction",
        "ApiAuthRefreshFunction",
        "ApiAuthLogoutFunction",
        "ApiAuthMfaEnrollFunction",
        "ApiAuthMfaVerifyFunction",
        "ApiAuthMfaDisableFunction",
        "ApiAuthMfaRecoveryCodesFunction",
        "ApiAuthVerifyEmailSendFunction",
        "ApiAuthVerifyEmailFunction",
        "ApiAuthPasswordForgotFunction",
        "ApiAuthPasswordResetFunction",
        "KeyRotationFunction",
    }


def test_only_the_mfa_functions_can_use_the_totp_sealing_key() -> None:
    """The TOTP secrets are sealed under MfaSecretsKey: enrolment seals (Encrypt), verification opens and seals
    (Decrypt, Encrypt), the step-up routes open (Decrypt: a TOTP code proves the account); no other function can
    open one, so a read of AuthTable yields no TOTP secret."""
    functions = APP.resources("AWS::Serverless::Function")
    grants: dict[str, set[str]] = {}
    for lid in FUNCTIONS:
        for policy in functions[lid]["Properties"].get("Policies", []):
            for st in policy.get("Statement", []) if isinstance(policy, dict) else []:
                if "MfaSecretsKey" in json.dumps(st.get("Resource"), default=str):
                    actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                    grants.setdefault(lid, set()).update(actions)
    assert grants == {
        "ApiAuthMfaEnrollFunction": {"kms:Encrypt"},
        "ApiAuthMfaVerifyFunction": {"kms:Encrypt", "kms:Decrypt"},
        "ApiAuthMfaDisableFunction": {"kms:Decrypt"},
        "ApiAuthMfaRecoveryCodesFunction": {"kms:Decrypt"},
    }


MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# POST /math/*, POST /ai/parse-workload and POST /ai/templates/{name}/answers compute an answer from the request
# and change nothing
COMPUTATIONS = ("/math/", "/ai/parse-workload", "/ai/templates/")


def test_every_mutating_route_appends_to_the_audit_log() -> None:
    """Issue 5: every mutating request lands in the audit log. Each such route's function runs the audit middleware
    and has the audit table and the spool (where an entry whose append failed waits)."""
    mutating = sorted({r.function for r in APP.routes if r.method in MUTATING and not r.path.startswith(COMPUTATIONS)})
    assert {"ApiAuthLoginFunction", "ApiRecordInteractionFunction"} <= set(mutating)
    for lid in mutating:
        middlewares = getattr(module(lid).app, "_router_middlewares", [])
        assert any(m.__qualname__.startswith("audit_middleware.") for m in middlewares), f"{lid}: no audit middleware"
        assert "audit" in {f.name for f in dataclasses.fields(module(lid).Deps)}, f"{lid}: no audit trail in Deps"
        env = APP.functions[lid].environment
        assert {"AUDIT_TABLE", "AUDIT_SPOOL_QUEUE_URL"} <= set(env), f"{lid}: not wired to the audit log and spool"
