; Inno Setup script: MCP Tray for Windows, from the bundle built by
; installers\windows\mcp-tray.spec (dist\mcp-tray\). Build: iscc mcp-tray.iss
;
; Installs for the current user (no administrator rights), adds a Start-menu
; entry and MCP Tray to "Open with" for .mcpb (and .dxt) bundles, and offers
; to start MCP Tray at login (the same HKCU Run value the tray's "Start at
; login" switch uses, app.core.autostart). Uninstalling
; stops MCP Tray and every server first, then removes everything it installed;
; the user's config, logs and secrets stay.

#define AppName "MCP Tray"
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6F1D2C3B-4E5A-4B7C-9D8E-0A1B2C3D4E5F}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=MCP Tray
DefaultDirName={localappdata}\Programs\MCP Tray
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=mcp-tray-{#AppVersion}-windows-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\MCP Tray.exe
; An upgrade over a running tray: Setup asks it to close (Restart Manager).
CloseApplications=yes
; Explorer learns of the .mcpb association without a restart.
ChangesAssociation=yes

[Tasks]
Name: "startatlogin"; Description: "Start MCP Tray when I log in"; Flags: unchecked

[Files]
Source: "..\..\dist\mcp-tray\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{userprograms}\{#AppName}"; Filename: "{app}\MCP Tray.exe"

[Registry]
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "MCP Tray"; ValueData: """{app}\MCP Tray.exe"""; Tasks: startatlogin; Flags: uninsdeletevalue
; The same value when the tray's own switch set it: removed on uninstall too.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; ValueName: "MCP Tray"; Flags: uninsdeletevalue
; Bundles: MCP Tray joins "Open with" (OpenWithProgids) rather than taking the
; default, which another app (Claude Desktop) may hold. Opening one runs
; `MCP Tray.exe FILE`, which adds the bundle.
Root: HKCU; Subkey: "Software\Classes\MCPTray.Bundle"; ValueType: string; ValueName: ""; ValueData: "MCP server bundle"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Classes\MCPTray.Bundle\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\MCP Tray.exe,0"
Root: HKCU; Subkey: "Software\Classes\MCPTray.Bundle\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\MCP Tray.exe"" ""%1"""
Root: HKCU; Subkey: "Software\Classes\.mcpb\OpenWithProgids"; ValueType: string; ValueName: "MCPTray.Bundle"; ValueData: ""; Flags: uninsdeletevalue
Root: HKCU; Subkey: "Software\Classes\.dxt\OpenWithProgids"; ValueType: string; ValueName: "MCPTray.Bundle"; ValueData: ""; Flags: uninsdeletevalue

[Run]
Filename: "{app}\MCP Tray.exe"; Description: "Start MCP Tray now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Stop MCP Tray and its servers cleanly, then make sure nothing of it still runs
; (files in use could not be removed).
Filename: "{app}\mcp-tray.exe"; Parameters: "quit"; Flags: runhidden waituntilterminated; RunOnceId: "QuitMcpTray"
Filename: "{sys}\taskkill.exe"; Parameters: "/F /T /IM ""MCP Tray.exe"""; Flags: runhidden waituntilterminated; RunOnceId: "KillTray"
Filename: "{sys}\taskkill.exe"; Parameters: "/F /T /IM mcp-tray.exe"; Flags: runhidden waituntilterminated; RunOnceId: "KillCli"
