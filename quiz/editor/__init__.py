"""The campaign editor: head office builds and changes campaigns in the browser."""
