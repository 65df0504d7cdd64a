from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.service_lock_view import ServiceLockView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    service: str,
    *,
    destination: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["destination"] = destination

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/services/{service}/lock".format(
            service=quote(str(service), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | ServiceLockView | None:
    if response.status_code == 200:
        response_200 = ServiceLockView.from_dict(response.json())

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | ServiceLockView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    service: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
) -> Response[Problem | ServiceLockView]:
    """Who holds the deploy lock of a service (in a destination).

     Both halves: the database lock a deployment takes, and the on-host lock directory
    (`.kamal/lock-S[-D]` on the primary host) that Convoy and the `kamal` CLI both
    honour. An unreachable host still answers 200, with the reason in `host.error`.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ServiceLockView]
    """

    kwargs = _get_kwargs(
        service=service,
        destination=destination,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    service: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
) -> Problem | ServiceLockView | None:
    """Who holds the deploy lock of a service (in a destination).

     Both halves: the database lock a deployment takes, and the on-host lock directory
    (`.kamal/lock-S[-D]` on the primary host) that Convoy and the `kamal` CLI both
    honour. An unreachable host still answers 200, with the reason in `host.error`.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ServiceLockView
    """

    return sync_detailed(
        service=service,
        client=client,
        destination=destination,
    ).parsed


async def asyncio_detailed(
    service: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
) -> Response[Problem | ServiceLockView]:
    """Who holds the deploy lock of a service (in a destination).

     Both halves: the database lock a deployment takes, and the on-host lock directory
    (`.kamal/lock-S[-D]` on the primary host) that Convoy and the `kamal` CLI both
    honour. An unreachable host still answers 200, with the reason in `host.error`.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ServiceLockView]
    """

    kwargs = _get_kwargs(
        service=service,
        destination=destination,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    service: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
) -> Problem | ServiceLockView | None:
    """Who holds the deploy lock of a service (in a destination).

     Both halves: the database lock a deployment takes, and the on-host lock directory
    (`.kamal/lock-S[-D]` on the primary host) that Convoy and the `kamal` CLI both
    honour. An unreachable host still answers 200, with the reason in `host.error`.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ServiceLockView
    """

    return (
        await asyncio_detailed(
            service=service,
            client=client,
            destination=destination,
        )
    ).parsed
