"""Node types: the contract (``base``), the registry, and the built-in types."""
from orchestrator.nodes.base import ApprovalRequest, NodeContext, NodeError, NodeType, Suspend
from orchestrator.nodes.registry import UnknownNodeType, get_node_type, node_types, register

__all__ = [
    "ApprovalRequest",
    "NodeContext",
    "NodeError",
    "NodeType",
    "Suspend",
    "UnknownNodeType",
    "get_node_type",
    "node_types",
    "register",
]
