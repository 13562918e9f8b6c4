// Lares's base instructions from a Letta system prompt: the rendered memory section is
// removed (Lares renders its own blocks at every turn), the rest is kept as written.

/** Removes {CORE_MEMORY}, <memory_blocks>…</memory_blocks>, <memory_metadata>…</memory_metadata> and similar rendered sections. */
export function stripMemorySection(system: string): string {
  let text = system.replaceAll('{CORE_MEMORY}', '');
  for (const tag of ['memory_blocks', 'memory_metadata', 'directories', 'tool_usage_rules']) {
    text = text.replace(new RegExp(`\\n*<${tag}>[\\s\\S]*?</${tag}>\\n*`, 'g'), '\n\n');
  }
  // legacy MemGPT rendering: "### Memory [last modified: …]" up to the end
  text = text.replace(/\n*### Memory \[last modified:[\s\S]*$/, '');
  return text.replace(/\n{3,}/g, '\n\n').trim();
}
