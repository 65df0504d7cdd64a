from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.lock_release_view import LockReleaseView
from ...models.problem import Problem
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
        "method": "delete",
        "url": "/v1/services/{service}/lock".format(
            service=quote(str(service), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> LockReleaseView | Problem | None:
    if response.status_code == 200:
        response_200 = LockReleaseView.from_dict(response.json())

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
) -> Response[LockReleaseView | Problem]:
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
) -> Response[LockReleaseView | Problem]:
    """Release a stuck deploy lock.

     Removes the database lock row, whoever holds it, and the lock directory on the
    primary host, whoever wrote it (Convoy or `kamal`). Meant for locks left behind by a
    worker or a person who is gone: a deployment still running keeps going but no
    longer holds the lock, so another deployment of the service may start beside it.
    The deployment that held the database lock gets a `lock_released` event.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LockReleaseView | Problem]
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
) -> LockReleaseView | Problem | None:
    """Release a stuck deploy lock.

     Removes the database lock row, whoever holds it, and the lock directory on the
    primary host, whoever wrote it (Convoy or `kamal`). Meant for locks left behind by a
    worker or a person who is gone: a deployment still running keeps going but no
    longer holds the lock, so another deployment of the service may start beside it.
    The deployment that held the database lock gets a `lock_released` event.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LockReleaseView | Problem
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
) -> Response[LockReleaseView | Problem]:
    """Release a stuck deploy lock.

     Removes the database lock row, whoever holds it, and the lock directory on the
    primary host, whoever wrote it (Convoy or `kamal`). Meant for locks left behind by a
    worker or a person who is gone: a deployment still running keeps going but no
    longer holds the lock, so another deployment of the service may start beside it.
    The deployment that held the database lock gets a `lock_released` event.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LockReleaseView | Problem]
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
) -> LockReleaseView | Problem | None:
    """Release a stuck deploy lock.

     Removes the database lock row, whoever holds it, and the lock directory on the
    primary host, whoever wrote it (Convoy or `kamal`). Meant for locks left behind by a
    worker or a person who is gone: a deployment still running keeps going but no
    longer holds the lock, so another deployment of the service may start beside it.
    The deployment that held the database lock gets a `lock_released` event.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LockReleaseView | Problem
    """

    return (
        await asyncio_detailed(
            service=service,
            client=client,
            destination=destination,
        )
    ).parsed
