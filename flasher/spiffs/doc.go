// Package spiffs owns the SPIFFS image format as the ESP8266 Arduino core
// and ESP32 use it: building images identical to mkspiffs', and reading
// them back (list, extract, check).
//
// Building: [Build] turns an [fstree.Tree] into an image byte-identical to
// what mkspiffs (SPIFFS 0.3.7-5-gf5e26c4) makes from the same files added
// in the same order, after the normalisation of [Normalize] (mkspiffs
// leaves four uninitialised bytes in every index header; Build writes
// 0xFF there). SPIFFS is flat: an object's name is the file's full path
// ("/www/index.html"), directories are not stored, so Tree.Dirs is
// ignored and empty directories vanish. Files are added in Tree.Files
// order, which fstree makes byte-wise sorted and depth-first (what
// filepath.WalkDir yields); the order decides object ids and page
// positions, so the same tree always gives the same image.
//
// The builder is a model of the SPIFFS code paths mkspiffs drives (see
// sim.go), including the garbage collection SPIFFS starts once the image
// is nearly full, so images stay identical to mkspiffs' up to the last
// byte that fits. The reference for all of it is
// shared/docs/filesystem-images.md §3–4 ("docs" in comments) and the
// SPIFFS and mkspiffs sources named in each comment.
//
// Reading: [Read] parses an image without trusting it: [Image.Files] lists
// the live files, [Image.ReadFile] and [Image.Extract] get their content,
// [Image.Check] reports every inconsistency found. [Detect] guesses the
// parameters of an image from its block magic and index headers.
package spiffs
