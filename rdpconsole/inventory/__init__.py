"""Declarative inventory files: parse them and make the stored servers of a scope match."""

from rdpconsole.inventory.parser import Inventory
from rdpconsole.inventory.parser import InventoryError
from rdpconsole.inventory.parser import InventoryServer
from rdpconsole.inventory.parser import Problem
from rdpconsole.inventory.parser import build_server
from rdpconsole.inventory.parser import load_inventory
from rdpconsole.inventory.parser import parse_inventory
from rdpconsole.inventory.sync import InventoryConflict
from rdpconsole.inventory.sync import SyncResult
from rdpconsole.inventory.sync import sync_inventory

__all__ = [
    "Inventory",
    "InventoryConflict",
    "InventoryError",
    "InventoryServer",
    "Problem",
    "SyncResult",
    "build_server",
    "load_inventory",
    "parse_inventory",
    "sync_inventory",
]
