"""The AWS side: IAM roles, their trust and permission policies."""
