from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.deployment_input import DeploymentInput
from ...models.deployment_view import DeploymentView
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: DeploymentInput,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/deployments",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeploymentView | Problem | None:
    if response.status_code == 202:
        response_202 = DeploymentView.from_dict(response.json())

        return response_202

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DeploymentView | Problem]:
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
    idempotency_key: str | Unset = UNSET,
) -> Response[DeploymentView | Problem]:
    """Validate a deploy request and queue the deployment.

    Args:
        idempotency_key (str | Unset): Visible ASCII
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
        Response[DeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: DeploymentInput,
    idempotency_key: str | Unset = UNSET,
) -> DeploymentView | Problem | None:
    """Validate a deploy request and queue the deployment.

    Args:
        idempotency_key (str | Unset): Visible ASCII
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
        DeploymentView | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: DeploymentInput,
    idempotency_key: str | Unset = UNSET,
) -> Response[DeploymentView | Problem]:
    """Validate a deploy request and queue the deployment.

    Args:
        idempotency_key (str | Unset): Visible ASCII
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
        Response[DeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: DeploymentInput,
    idempotency_key: str | Unset = UNSET,
) -> DeploymentView | Problem | None:
    """Validate a deploy request and queue the deployment.

    Args:
        idempotency_key (str | Unset): Visible ASCII
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
        DeploymentView | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
