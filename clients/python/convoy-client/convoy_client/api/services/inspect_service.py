from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.inspect_view import InspectView
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
        "method": "post",
        "url": "/v1/services/{service}/inspect".format(
            service=quote(str(service), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> InspectView | Problem | None:
    if response.status_code == 200:
        response_200 = InspectView.from_dict(response.json())

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[InspectView | Problem]:
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
) -> Response[InspectView | Problem]:
    """Compare what a service's hosts run with what was recorded.

     Asks every host the service's runs touched, in parallel and each within 15 s, for the
    service's containers (`docker ps -a` with Kamal's `service` and `destination` labels)
    and reports `drift` against the inventory's live pairs: `version_differs`, `missing`,
    `exited`, `extra` (a running container no live pair explains; stopped old releases are
    not drift) and `unhealthy`. A host that cannot be reached is reported in `hosts` with
    its `error`. A drift different from the last recorded one raises a `drift_detected`
    service event, its end a `drift_cleared` one (`GET /v1/services/{service}/events`).

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InspectView | Problem]
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
) -> InspectView | Problem | None:
    """Compare what a service's hosts run with what was recorded.

     Asks every host the service's runs touched, in parallel and each within 15 s, for the
    service's containers (`docker ps -a` with Kamal's `service` and `destination` labels)
    and reports `drift` against the inventory's live pairs: `version_differs`, `missing`,
    `exited`, `extra` (a running container no live pair explains; stopped old releases are
    not drift) and `unhealthy`. A host that cannot be reached is reported in `hosts` with
    its `error`. A drift different from the last recorded one raises a `drift_detected`
    service event, its end a `drift_cleared` one (`GET /v1/services/{service}/events`).

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InspectView | Problem
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
) -> Response[InspectView | Problem]:
    """Compare what a service's hosts run with what was recorded.

     Asks every host the service's runs touched, in parallel and each within 15 s, for the
    service's containers (`docker ps -a` with Kamal's `service` and `destination` labels)
    and reports `drift` against the inventory's live pairs: `version_differs`, `missing`,
    `exited`, `extra` (a running container no live pair explains; stopped old releases are
    not drift) and `unhealthy`. A host that cannot be reached is reported in `hosts` with
    its `error`. A drift different from the last recorded one raises a `drift_detected`
    service event, its end a `drift_cleared` one (`GET /v1/services/{service}/events`).

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InspectView | Problem]
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
) -> InspectView | Problem | None:
    """Compare what a service's hosts run with what was recorded.

     Asks every host the service's runs touched, in parallel and each within 15 s, for the
    service's containers (`docker ps -a` with Kamal's `service` and `destination` labels)
    and reports `drift` against the inventory's live pairs: `version_differs`, `missing`,
    `exited`, `extra` (a running container no live pair explains; stopped old releases are
    not drift) and `unhealthy`. A host that cannot be reached is reported in `hosts` with
    its `error`. A drift different from the last recorded one raises a `drift_detected`
    service event, its end a `drift_cleared` one (`GET /v1/services/{service}/events`).

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InspectView | Problem
    """

    return (
        await asyncio_detailed(
            service=service,
            client=client,
            destination=destination,
        )
    ).parsed
