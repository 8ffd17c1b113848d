"""Branches (机构) and the routing of a mailing address to the branch."""
