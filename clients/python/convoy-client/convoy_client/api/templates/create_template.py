from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.template_input import TemplateInput
from ...models.template_view import TemplateView
from ...types import Response


def _get_kwargs(
    *,
    body: TemplateInput,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/templates",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | TemplateView | None:
    if response.status_code == 201:
        response_201 = TemplateView.from_dict(response.json())

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
) -> Response[Problem | TemplateView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: TemplateInput,
) -> Response[Problem | TemplateView]:
    """Add a template to the org.

    Args:
        body (TemplateInput): An org's own Kamal config template (handlebars producing
            deploy.yml). Example: {'app_type': 'rails', 'description': 'Rails behind the proxy on one
            host', 'name': 'small-rails', 'template': 'service: {{service_name}}\\nimage:
            {{image}}\\nservers:\\n  web:\\n    - {{server}}\\n', 'variables': [{'description':
            'Service name', 'name': 'service_name', 'type': 'string'}, {'default':
            'ghcr.io/acme/app:latest', 'name': 'image', 'type': 'string'}, {'description': 'The server
            to deploy to', 'name': 'server', 'type': 'host'}]}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TemplateView]
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
    body: TemplateInput,
) -> Problem | TemplateView | None:
    """Add a template to the org.

    Args:
        body (TemplateInput): An org's own Kamal config template (handlebars producing
            deploy.yml). Example: {'app_type': 'rails', 'description': 'Rails behind the proxy on one
            host', 'name': 'small-rails', 'template': 'service: {{service_name}}\\nimage:
            {{image}}\\nservers:\\n  web:\\n    - {{server}}\\n', 'variables': [{'description':
            'Service name', 'name': 'service_name', 'type': 'string'}, {'default':
            'ghcr.io/acme/app:latest', 'name': 'image', 'type': 'string'}, {'description': 'The server
            to deploy to', 'name': 'server', 'type': 'host'}]}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TemplateView
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: TemplateInput,
) -> Response[Problem | TemplateView]:
    """Add a template to the org.

    Args:
        body (TemplateInput): An org's own Kamal config template (handlebars producing
            deploy.yml). Example: {'app_type': 'rails', 'description': 'Rails behind the proxy on one
            host', 'name': 'small-rails', 'template': 'service: {{service_name}}\\nimage:
            {{image}}\\nservers:\\n  web:\\n    - {{server}}\\n', 'variables': [{'description':
            'Service name', 'name': 'service_name', 'type': 'string'}, {'default':
            'ghcr.io/acme/app:latest', 'name': 'image', 'type': 'string'}, {'description': 'The server
            to deploy to', 'name': 'server', 'type': 'host'}]}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TemplateView]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: TemplateInput,
) -> Problem | TemplateView | None:
    """Add a template to the org.

    Args:
        body (TemplateInput): An org's own Kamal config template (handlebars producing
            deploy.yml). Example: {'app_type': 'rails', 'description': 'Rails behind the proxy on one
            host', 'name': 'small-rails', 'template': 'service: {{service_name}}\\nimage:
            {{image}}\\nservers:\\n  web:\\n    - {{server}}\\n', 'variables': [{'description':
            'Service name', 'name': 'service_name', 'type': 'string'}, {'default':
            'ghcr.io/acme/app:latest', 'name': 'image', 'type': 'string'}, {'description': 'The server
            to deploy to', 'name': 'server', 'type': 'host'}]}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TemplateView
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
