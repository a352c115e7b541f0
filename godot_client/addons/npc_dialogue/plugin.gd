## The editor side of the addon. There is nothing to register: NpcDialogue is a global
## class ([code]class_name[/code]), so it is in the Create Node dialog once the addon's
## files are in the project. Enabling the plugin only marks the addon as in use.
@tool
extends EditorPlugin
