"""Telling people and asking them: Slack messages and approvals, the approval policy, the action log."""
