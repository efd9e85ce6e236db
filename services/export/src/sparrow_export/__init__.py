"""Sparrow's export worker: joins the spine's clips into one file."""
