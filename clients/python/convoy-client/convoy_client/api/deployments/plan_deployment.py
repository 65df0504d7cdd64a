from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.deployment_input import DeploymentInput
from ...models.plan_view import PlanView
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: DeploymentInput,
    preflight: bool | Unset = UNSET,
    min_free_mib: int | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["preflight"] = preflight

    params["min_free_mib"] = min_free_mib

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/deployments/plan",
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> PlanView | Problem | None:
    if response.status_code == 200:
        response_200 = PlanView.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[PlanView | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: DeploymentInput,
    preflight: bool | Unset = UNSET,
    min_free_mib: int | Unset = UNSET,
) -> Response[PlanView | Problem]:
    """Dry run: the normalised config and, per host, the exact commands a deployment of this
    body would run, secrets redacted, and the rollout (waves and gates) of its `strategy`
    or, without one, of the config's boot groups. Nothing is stored or executed; secret
    values may be left out.

     With `?preflight=true`, every host of the plan is also checked, read-only and in
    parallel (at most 30 s per host): `ssh` (reachable, host key pinned or matching),
    `docker` (server version), `disk` (free space of Docker's root directory, at least
    `min_free_mib`), `registry_login` (the config's registry credentials, the password
    from `secrets`, accepted by the registry as reached from the host) and `image` (the
    version's tag exists in the registry). A check that needs a failed one is reported
    `skipped`. Nothing is stored and nothing on a host changes.

    Args:
        preflight (bool | Unset):
        min_free_mib (int | Unset):
        body (DeploymentInput): A deployment request: exactly one of `config`, `config_yaml` or
            `template`. Example: {'config_yaml': 'service: customer-app\\nimage:
            ghcr.io/customer/rails-app:v2.1.0\\nservers:\\n  web:\\n    - web-1\\n    -
            web-2\\nregistry:\\n  server: ghcr.io\\n  username: customer\\n  password:\\n    -
            KAMAL_REGISTRY_PASSWORD\\nenv:\\n  secret:\\n    - RAILS_MASTER_KEY\\nproxy:\\n  ssl:
            true\\n  host: app.customer.example\\n', 'secrets': {'KAMAL_REGISTRY_PASSWORD':
            'ghp_example', 'RAILS_MASTER_KEY': '0123456789abcdef'}, 'version': 'v2.1.0'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PlanView | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        preflight=preflight,
        min_free_mib=min_free_mib,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: DeploymentInput,
    preflight: bool | Unset = UNSET,
    min_free_mib: int | Unset = UNSET,
) -> PlanView | Problem | None:
    """Dry run: the normalised config and, per host, the exact commands a deployment of this
    body would run, secrets redacted, and the rollout (waves and gates) of its `strategy`
    or, without one, of the config's boot groups. Nothing is stored or executed; secret
    values may be left out.

     With `?preflight=true`, every host of the plan is also checked, read-only and in
    parallel (at most 30 s per host): `ssh` (reachable, host key pinned or matching),
    `docker` (server version), `disk` (free space of Docker's root directory, at least
    `min_free_mib`), `registry_login` (the config's registry credentials, the password
    from `secrets`, accepted by the registry as reached from the host) and `image` (the
    version's tag exists in the registry). A check that needs a failed one is reported
    `skipped`. Nothing is stored and nothing on a host changes.

    Args:
        preflight (bool | Unset):
        min_free_mib (int | Unset):
        body (DeploymentInput): A deployment request: exactly one of `config`, `config_yaml` or
            `template`. Example: {'config_yaml': 'service: customer-app\\nimage:
            ghcr.io/customer/rails-app:v2.1.0\\nservers:\\n  web:\\n    - web-1\\n    -
            web-2\\nregistry:\\n  server: ghcr.io\\n  username: customer\\n  password:\\n    -
            KAMAL_REGISTRY_PASSWORD\\nenv:\\n  secret:\\n    - RAILS_MASTER_KEY\\nproxy:\\n  ssl:
            true\\n  host: app.customer.example\\n', 'secrets': {'KAMAL_REGISTRY_PASSWORD':
            'ghp_example', 'RAILS_MASTER_KEY': '0123456789abcdef'}, 'version': 'v2.1.0'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PlanView | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
        preflight=preflight,
        min_free_mib=min_free_mib,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: DeploymentInput,
    preflight: bool | Unset = UNSET,
    min_free_mib: int | Unset = UNSET,
) -> Response[PlanView | Problem]:
    """Dry run: the normalised config and, per host, the exact commands a deployment of this
    body would run, secrets redacted, and the rollout (waves and gates) of its `strategy`
    or, without one, of the config's boot groups. Nothing is stored or executed; secret
    values may be left out.

     With `?preflight=true`, every host of the plan is also checked, read-only and in
    parallel (at most 30 s per host): `ssh` (reachable, host key pinned or matching),
    `docker` (server version), `disk` (free space of Docker's root directory, at least
    `min_free_mib`), `registry_login` (the config's registry credentials, the password
    from `secrets`, accepted by the registry as reached from the host) and `image` (the
    version's tag exists in the registry). A check that needs a failed one is reported
    `skipped`. Nothing is stored and nothing on a host changes.

    Args:
        preflight (bool | Unset):
        min_free_mib (int | Unset):
        body (DeploymentInput): A deployment request: exactly one of `config`, `config_yaml` or
            `template`. Example: {'config_yaml': 'service: customer-app\\nimage:
            ghcr.io/customer/rails-app:v2.1.0\\nservers:\\n  web:\\n    - web-1\\n    -
            web-2\\nregistry:\\n  server: ghcr.io\\n  username: customer\\n  password:\\n    -
            KAMAL_REGISTRY_PASSWORD\\nenv:\\n  secret:\\n    - RAILS_MASTER_KEY\\nproxy:\\n  ssl:
            true\\n  host: app.customer.example\\n', 'secrets': {'KAMAL_REGISTRY_PASSWORD':
            'ghp_example', 'RAILS_MASTER_KEY': '0123456789abcdef'}, 'version': 'v2.1.0'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PlanView | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        preflight=preflight,
        min_free_mib=min_free_mib,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: DeploymentInput,
    preflight: bool | Unset = UNSET,
    min_free_mib: int | Unset = UNSET,
) -> PlanView | Problem | None:
    """Dry run: the normalised config and, per host, the exact commands a deployment of this
    body would run, secrets redacted, and the rollout (waves and gates) of its `strategy`
    or, without one, of the config's boot groups. Nothing is stored or executed; secret
    values may be left out.

     With `?preflight=true`, every host of the plan is also checked, read-only and in
    parallel (at most 30 s per host): `ssh` (reachable, host key pinned or matching),
    `docker` (server version), `disk` (free space of Docker's root directory, at least
    `min_free_mib`), `registry_login` (the config's registry credentials, the password
    from `secrets`, accepted by the registry as reached from the host) and `image` (the
    version's tag exists in the registry). A check that needs a failed one is reported
    `skipped`. Nothing is stored and nothing on a host changes.

    Args:
        preflight (bool | Unset):
        min_free_mib (int | Unset):
        body (DeploymentInput): A deployment request: exactly one of `config`, `config_yaml` or
            `template`. Example: {'config_yaml': 'service: customer-app\\nimage:
            ghcr.io/customer/rails-app:v2.1.0\\nservers:\\n  web:\\n    - web-1\\n    -
            web-2\\nregistry:\\n  server: ghcr.io\\n  username: customer\\n  password:\\n    -
            KAMAL_REGISTRY_PASSWORD\\nenv:\\n  secret:\\n    - RAILS_MASTER_KEY\\nproxy:\\n  ssl:
            true\\n  host: app.customer.example\\n', 'secrets': {'KAMAL_REGISTRY_PASSWORD':
            'ghp_example', 'RAILS_MASTER_KEY': '0123456789abcdef'}, 'version': 'v2.1.0'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PlanView | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            preflight=preflight,
            min_free_mib=min_free_mib,
        )
    ).parsed
