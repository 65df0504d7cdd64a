from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.deployment_view import DeploymentView
from ...models.operation_input import OperationInput
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    service: str,
    *,
    body: OperationInput | Unset = UNSET,
    wait: bool | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["wait"] = wait

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/services/{service}/stop".format(
            service=quote(str(service), safe=""),
        ),
        "params": params,
    }

    if not isinstance(body, Unset):
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
    service: str,
    *,
    client: AuthenticatedClient,
    body: OperationInput | Unset = UNSET,
    wait: bool | Unset = UNSET,
) -> Response[DeploymentView | Problem]:
    """Stop the service: its proxy routes removed, then its containers stopped (`kamal app
    stop`). The proxy answers 404 for the service's hosts until it is started.

    Args:
        service (str): Service name
        wait (bool | Unset):
        body (OperationInput | Unset): Which live (server, role) pairs of the service the
            operation touches: all of them
            unless narrowed. Example: {'hosts': ['web-1'], 'roles': ['web']}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        service=service,
        body=body,
        wait=wait,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    service: str,
    *,
    client: AuthenticatedClient,
    body: OperationInput | Unset = UNSET,
    wait: bool | Unset = UNSET,
) -> DeploymentView | Problem | None:
    """Stop the service: its proxy routes removed, then its containers stopped (`kamal app
    stop`). The proxy answers 404 for the service's hosts until it is started.

    Args:
        service (str): Service name
        wait (bool | Unset):
        body (OperationInput | Unset): Which live (server, role) pairs of the service the
            operation touches: all of them
            unless narrowed. Example: {'hosts': ['web-1'], 'roles': ['web']}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeploymentView | Problem
    """

    return sync_detailed(
        service=service,
        client=client,
        body=body,
        wait=wait,
    ).parsed


async def asyncio_detailed(
    service: str,
    *,
    client: AuthenticatedClient,
    body: OperationInput | Unset = UNSET,
    wait: bool | Unset = UNSET,
) -> Response[DeploymentView | Problem]:
    """Stop the service: its proxy routes removed, then its containers stopped (`kamal app
    stop`). The proxy answers 404 for the service's hosts until it is started.

    Args:
        service (str): Service name
        wait (bool | Unset):
        body (OperationInput | Unset): Which live (server, role) pairs of the service the
            operation touches: all of them
            unless narrowed. Example: {'hosts': ['web-1'], 'roles': ['web']}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        service=service,
        body=body,
        wait=wait,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    service: str,
    *,
    client: AuthenticatedClient,
    body: OperationInput | Unset = UNSET,
    wait: bool | Unset = UNSET,
) -> DeploymentView | Problem | None:
    """Stop the service: its proxy routes removed, then its containers stopped (`kamal app
    stop`). The proxy answers 404 for the service's hosts until it is started.

    Args:
        service (str): Service name
        wait (bool | Unset):
        body (OperationInput | Unset): Which live (server, role) pairs of the service the
            operation touches: all of them
            unless narrowed. Example: {'hosts': ['web-1'], 'roles': ['web']}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeploymentView | Problem
    """

    return (
        await asyncio_detailed(
            service=service,
            client=client,
            body=body,
            wait=wait,
        )
    ).parsed
