from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.deployment_view import DeploymentView
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    service: str,
    name: str,
    *,
    destination: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["destination"] = destination

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/services/{service}/accessories/{name}/reboot".format(
            service=quote(str(service), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

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
    service: str,
    name: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
) -> Response[DeploymentView | Problem]:
    """Reboot an accessory: stop and remove its container, then boot it again.

     Queues an `accessory_reboot` run on the accessory's hosts. Named volumes and the
    accessory's directories are kept, so its data survives.

    Args:
        service (str): Service name
        name (str): Accessory name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        service=service,
        name=name,
        destination=destination,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    service: str,
    name: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
) -> DeploymentView | Problem | None:
    """Reboot an accessory: stop and remove its container, then boot it again.

     Queues an `accessory_reboot` run on the accessory's hosts. Named volumes and the
    accessory's directories are kept, so its data survives.

    Args:
        service (str): Service name
        name (str): Accessory name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeploymentView | Problem
    """

    return sync_detailed(
        service=service,
        name=name,
        client=client,
        destination=destination,
    ).parsed


async def asyncio_detailed(
    service: str,
    name: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
) -> Response[DeploymentView | Problem]:
    """Reboot an accessory: stop and remove its container, then boot it again.

     Queues an `accessory_reboot` run on the accessory's hosts. Named volumes and the
    accessory's directories are kept, so its data survives.

    Args:
        service (str): Service name
        name (str): Accessory name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        service=service,
        name=name,
        destination=destination,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    service: str,
    name: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
) -> DeploymentView | Problem | None:
    """Reboot an accessory: stop and remove its container, then boot it again.

     Queues an `accessory_reboot` run on the accessory's hosts. Named volumes and the
    accessory's directories are kept, so its data survives.

    Args:
        service (str): Service name
        name (str): Accessory name
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeploymentView | Problem
    """

    return (
        await asyncio_detailed(
            service=service,
            name=name,
            client=client,
            destination=destination,
        )
    ).parsed
