from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.bootstrap_input import BootstrapInput
from ...models.bootstrap_view import BootstrapView
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: UUID,
    *,
    body: BootstrapInput | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/servers/{id}/bootstrap".format(
            id=quote(str(id), safe=""),
        ),
    }

    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> BootstrapView | Problem | None:
    if response.status_code == 200:
        response_200 = BootstrapView.from_dict(response.json())

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
) -> Response[BootstrapView | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: BootstrapInput | Unset = UNSET,
) -> Response[BootstrapView | Problem]:
    """Prepare a server as `kamal server bootstrap` and `kamal proxy boot` do: Docker present
    and running (installed with `apt-get install docker.io` when missing, the login is
    root and the distribution is Debian or Ubuntu), the `kamal` network, and kamal-proxy
    running (booted like a deploy boots it). Each step changes the host only when needed:
    a second run answers `changed: false`. Synchronous; logged as server events
    (`bootstrap_started`, then `bootstrap_completed` or `bootstrap_failed` with the steps).
    The body is optional: `config` (a deploy config: its `proxy.run` and `registry`) and
    the registry's `secrets` choose the proxy image.

    Args:
        id (UUID):
        body (BootstrapInput | Unset): The optional body of `POST /v1/servers/{id}/bootstrap`: the
            proxy to boot.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BootstrapView | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: BootstrapInput | Unset = UNSET,
) -> BootstrapView | Problem | None:
    """Prepare a server as `kamal server bootstrap` and `kamal proxy boot` do: Docker present
    and running (installed with `apt-get install docker.io` when missing, the login is
    root and the distribution is Debian or Ubuntu), the `kamal` network, and kamal-proxy
    running (booted like a deploy boots it). Each step changes the host only when needed:
    a second run answers `changed: false`. Synchronous; logged as server events
    (`bootstrap_started`, then `bootstrap_completed` or `bootstrap_failed` with the steps).
    The body is optional: `config` (a deploy config: its `proxy.run` and `registry`) and
    the registry's `secrets` choose the proxy image.

    Args:
        id (UUID):
        body (BootstrapInput | Unset): The optional body of `POST /v1/servers/{id}/bootstrap`: the
            proxy to boot.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BootstrapView | Problem
    """

    return sync_detailed(
        id=id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: BootstrapInput | Unset = UNSET,
) -> Response[BootstrapView | Problem]:
    """Prepare a server as `kamal server bootstrap` and `kamal proxy boot` do: Docker present
    and running (installed with `apt-get install docker.io` when missing, the login is
    root and the distribution is Debian or Ubuntu), the `kamal` network, and kamal-proxy
    running (booted like a deploy boots it). Each step changes the host only when needed:
    a second run answers `changed: false`. Synchronous; logged as server events
    (`bootstrap_started`, then `bootstrap_completed` or `bootstrap_failed` with the steps).
    The body is optional: `config` (a deploy config: its `proxy.run` and `registry`) and
    the registry's `secrets` choose the proxy image.

    Args:
        id (UUID):
        body (BootstrapInput | Unset): The optional body of `POST /v1/servers/{id}/bootstrap`: the
            proxy to boot.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BootstrapView | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: BootstrapInput | Unset = UNSET,
) -> BootstrapView | Problem | None:
    """Prepare a server as `kamal server bootstrap` and `kamal proxy boot` do: Docker present
    and running (installed with `apt-get install docker.io` when missing, the login is
    root and the distribution is Debian or Ubuntu), the `kamal` network, and kamal-proxy
    running (booted like a deploy boots it). Each step changes the host only when needed:
    a second run answers `changed: false`. Synchronous; logged as server events
    (`bootstrap_started`, then `bootstrap_completed` or `bootstrap_failed` with the steps).
    The body is optional: `config` (a deploy config: its `proxy.run` and `registry`) and
    the registry's `secrets` choose the proxy image.

    Args:
        id (UUID):
        body (BootstrapInput | Unset): The optional body of `POST /v1/servers/{id}/bootstrap`: the
            proxy to boot.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BootstrapView | Problem
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
        )
    ).parsed
