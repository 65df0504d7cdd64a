from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_server import CreateServer
from ...models.problem import Problem
from ...models.server_view import ServerView
from ...types import Response


def _get_kwargs(
    *,
    body: CreateServer,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/servers",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | ServerView | None:
    if response.status_code == 201:
        response_201 = ServerView.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

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
) -> Response[Problem | ServerView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateServer,
) -> Response[Problem | ServerView]:
    """Register a server. The private key is sealed at rest and never returned.

    Args:
        body (CreateServer): Register a fleet host reachable over SSH. Example: {'hostname':
            'web-1.customer.example', 'labels': {'region': 'eu-west'}, 'name': 'web-1', 'port': 22,
            'ssh_private_key': '-----BEGIN OPENSSH PRIVATE KEY-----\\n...\\n-----END OPENSSH PRIVATE
            KEY-----\\n', 'ssh_proxy': {'server_id': '0193a0c4-5e0f-7c3a-9a51-3f2b8f1c2d4e'},
            'ssh_user': 'deploy'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ServerView]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: CreateServer,
) -> Problem | ServerView | None:
    """Register a server. The private key is sealed at rest and never returned.

    Args:
        body (CreateServer): Register a fleet host reachable over SSH. Example: {'hostname':
            'web-1.customer.example', 'labels': {'region': 'eu-west'}, 'name': 'web-1', 'port': 22,
            'ssh_private_key': '-----BEGIN OPENSSH PRIVATE KEY-----\\n...\\n-----END OPENSSH PRIVATE
            KEY-----\\n', 'ssh_proxy': {'server_id': '0193a0c4-5e0f-7c3a-9a51-3f2b8f1c2d4e'},
            'ssh_user': 'deploy'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ServerView
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateServer,
) -> Response[Problem | ServerView]:
    """Register a server. The private key is sealed at rest and never returned.

    Args:
        body (CreateServer): Register a fleet host reachable over SSH. Example: {'hostname':
            'web-1.customer.example', 'labels': {'region': 'eu-west'}, 'name': 'web-1', 'port': 22,
            'ssh_private_key': '-----BEGIN OPENSSH PRIVATE KEY-----\\n...\\n-----END OPENSSH PRIVATE
            KEY-----\\n', 'ssh_proxy': {'server_id': '0193a0c4-5e0f-7c3a-9a51-3f2b8f1c2d4e'},
            'ssh_user': 'deploy'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ServerView]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: CreateServer,
) -> Problem | ServerView | None:
    """Register a server. The private key is sealed at rest and never returned.

    Args:
        body (CreateServer): Register a fleet host reachable over SSH. Example: {'hostname':
            'web-1.customer.example', 'labels': {'region': 'eu-west'}, 'name': 'web-1', 'port': 22,
            'ssh_private_key': '-----BEGIN OPENSSH PRIVATE KEY-----\\n...\\n-----END OPENSSH PRIVATE
            KEY-----\\n', 'ssh_proxy': {'server_id': '0193a0c4-5e0f-7c3a-9a51-3f2b8f1c2d4e'},
            'ssh_user': 'deploy'}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ServerView
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
