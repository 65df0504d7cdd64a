from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.render_input import RenderInput
from ...models.render_view import RenderView
from ...types import Response


def _get_kwargs(
    id: UUID,
    *,
    body: RenderInput,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/templates/{id}/render".format(
            id=quote(str(id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | RenderView | None:
    if response.status_code == 200:
        response_200 = RenderView.from_dict(response.json())

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | RenderView]:
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
    body: RenderInput,
) -> Response[Problem | RenderView]:
    """Render a template with variables into a Kamal deploy config, validated.

    Args:
        id (UUID):
        body (RenderInput): Variables for `POST /v1/templates/{id}/render`. Example: {'variables':
            {'domain': 'app.customer.example', 'image_url': 'ghcr.io/customer/app:v1.2.3',
            'registry_server': 'ghcr.io', 'registry_username': 'customer', 'servers': ['web-1',
            'web-2'], 'service_name': 'customer-app'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RenderView]
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
    body: RenderInput,
) -> Problem | RenderView | None:
    """Render a template with variables into a Kamal deploy config, validated.

    Args:
        id (UUID):
        body (RenderInput): Variables for `POST /v1/templates/{id}/render`. Example: {'variables':
            {'domain': 'app.customer.example', 'image_url': 'ghcr.io/customer/app:v1.2.3',
            'registry_server': 'ghcr.io', 'registry_username': 'customer', 'servers': ['web-1',
            'web-2'], 'service_name': 'customer-app'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RenderView
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
    body: RenderInput,
) -> Response[Problem | RenderView]:
    """Render a template with variables into a Kamal deploy config, validated.

    Args:
        id (UUID):
        body (RenderInput): Variables for `POST /v1/templates/{id}/render`. Example: {'variables':
            {'domain': 'app.customer.example', 'image_url': 'ghcr.io/customer/app:v1.2.3',
            'registry_server': 'ghcr.io', 'registry_username': 'customer', 'servers': ['web-1',
            'web-2'], 'service_name': 'customer-app'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RenderView]
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
    body: RenderInput,
) -> Problem | RenderView | None:
    """Render a template with variables into a Kamal deploy config, validated.

    Args:
        id (UUID):
        body (RenderInput): Variables for `POST /v1/templates/{id}/render`. Example: {'variables':
            {'domain': 'app.customer.example', 'image_url': 'ghcr.io/customer/app:v1.2.3',
            'registry_server': 'ghcr.io', 'registry_username': 'customer', 'servers': ['web-1',
            'web-2'], 'service_name': 'customer-app'}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RenderView
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
        )
    ).parsed
