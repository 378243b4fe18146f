"""Local accounts: users with hashed passwords, roles, and API tokens."""

from veedel.accounts.models import ROLES, ApiToken, EndedSession, Role, User
from veedel.accounts.service import (
    add_user,
    authenticate,
    create_token,
    end_session,
    list_users,
    role_allows,
    set_active,
    set_password,
    user_for_token,
)

__all__ = [
    "ROLES",
    "ApiToken",
    "EndedSession",
    "Role",
    "User",
    "add_user",
    "authenticate",
    "create_token",
    "end_session",
    "list_users",
    "role_allows",
    "set_active",
    "set_password",
    "user_for_token",
]
