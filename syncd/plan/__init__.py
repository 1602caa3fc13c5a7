"""The planner: follow-ups placed in time, and reconciled with the events syncd already wrote."""
