from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.check_view import CheckView
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/servers/{id}/check".format(
            id=quote(str(id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> CheckView | Problem | None:
    if response.status_code == 200:
        response_200 = CheckView.from_dict(response.json())

        return response_200

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[CheckView | Problem]:
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
) -> Response[CheckView | Problem]:
    """Connect to a server over a new SSH connection, verify its host key and ask its
    Docker daemon for its version. A server registered without a host key gets the
    key it presents pinned (trust on first use, recorded as a `host_key_pinned`
    event); a key other than the pinned one is refused and recorded as a
    `host_key_mismatch` event. An unreachable or refusing host is a 200 with
    `reachable: false` and the reason in `error`. This is the explicit way to pin, so it
    pins also under `CONVOY_REQUIRE_PINNED`. A server whose address the network policy
    refuses (loopback, link-local, cloud metadata; also when its name resolves there)
    is a 409 and is not contacted.

    Args:
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CheckView | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> CheckView | Problem | None:
    """Connect to a server over a new SSH connection, verify its host key and ask its
    Docker daemon for its version. A server registered without a host key gets the
    key it presents pinned (trust on first use, recorded as a `host_key_pinned`
    event); a key other than the pinned one is refused and recorded as a
    `host_key_mismatch` event. An unreachable or refusing host is a 200 with
    `reachable: false` and the reason in `error`. This is the explicit way to pin, so it
    pins also under `CONVOY_REQUIRE_PINNED`. A server whose address the network policy
    refuses (loopback, link-local, cloud metadata; also when its name resolves there)
    is a 409 and is not contacted.

    Args:
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CheckView | Problem
    """

    return sync_detailed(
        id=id,
        client=client,
    ).parsed


async def asyncio_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[CheckView | Problem]:
    """Connect to a server over a new SSH connection, verify its host key and ask its
    Docker daemon for its version. A server registered without a host key gets the
    key it presents pinned (trust on first use, recorded as a `host_key_pinned`
    event); a key other than the pinned one is refused and recorded as a
    `host_key_mismatch` event. An unreachable or refusing host is a 200 with
    `reachable: false` and the reason in `error`. This is the explicit way to pin, so it
    pins also under `CONVOY_REQUIRE_PINNED`. A server whose address the network policy
    refuses (loopback, link-local, cloud metadata; also when its name resolves there)
    is a 409 and is not contacted.

    Args:
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CheckView | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> CheckView | Problem | None:
    """Connect to a server over a new SSH connection, verify its host key and ask its
    Docker daemon for its version. A server registered without a host key gets the
    key it presents pinned (trust on first use, recorded as a `host_key_pinned`
    event); a key other than the pinned one is refused and recorded as a
    `host_key_mismatch` event. An unreachable or refusing host is a 200 with
    `reachable: false` and the reason in `error`. This is the explicit way to pin, so it
    pins also under `CONVOY_REQUIRE_PINNED`. A server whose address the network policy
    refuses (loopback, link-local, cloud metadata; also when its name resolves there)
    is a 409 and is not contacted.

    Args:
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CheckView | Problem
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
        )
    ).parsed
