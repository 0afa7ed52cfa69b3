"""The Compute API v2.1 front end: Nova's wire contract for servers and RDP consoles."""
