-- One name for the console's users: "admin" is one of their roles, not what they are.
ALTER TABLE admin_users RENAME TO console_users;
ALTER TABLE admin_grants RENAME TO console_user_grants;
ALTER TABLE admin_sessions RENAME TO console_sessions;
