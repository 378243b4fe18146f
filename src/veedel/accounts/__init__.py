"""Local accounts: users with hashed passwords, roles, and API tokens."""

from veedel.accounts.models import ROLES, ApiToken, Role, User
from veedel.accounts.service import (
    add_user,
    authenticate,
    create_token,
    list_users,
    role_allows,
    set_active,
    set_password,
    user_for_token,
)

__all__ = [
    "ROLES",
    "ApiToken",
    "Role",
    "User",
    "add_user",
    "authenticate",
    "create_token",
    "list_users",
    "role_allows",
    "set_active",
    "set_password",
    "user_for_token",
]
