"""Generated protovalidate rule messages."""
