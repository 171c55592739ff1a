"""Batch: how Audience Admin talks to Batch's APIs (and the simulator that stands in for them)."""
